"""One `terraform init` at a time per shared provider plugin cache.

With a plugin cache (`TF_PLUGIN_CACHE_DIR`), `terraform init` installs each provider the stack's lock
file does not list yet into the cache again, replacing what is there: a copy, or a symlink into a
filesystem mirror. Two inits doing that at once fail, with `failed to create directory ...: file
exists`, or with "text file busy" while another process runs the provider from the cache. Terraform
documents the cache as not safe for concurrent use (hashicorp/terraform#31964, open). Deploying the
regions' stacks in parallel starts their inits at once.

`plugin_cache_lock(env)` holds an exclusive `flock` on a file in the cache folder while an init runs.
The other stacks of the run wait their turn, and so does another run on the machine that shares the
folder. An init takes one to a few seconds with the cache filled. The wait polls, so a cancelled
deploy (Ctrl-C) stops waiting at once. The lock goes with its file descriptor, even when the process
is killed.

A stack whose init is done runs its plan or apply while another stack's init may still be replacing a
cache entry its `.terraform/providers` points to; terraform then stops before doing anything ("there is
no package for ... cached in .terraform/providers"), and `StackDir.run` runs the command again once no
init holds the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

LOCK_NAME = ".stacks-cloud-init.lock"
"""The file in the plugin cache folder that inits lock."""
POLL_SECONDS = 0.1

if sys.platform == "win32":  # no flock: inits are not serialised there

    def _try_lock(fd: int) -> bool:
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


@contextlib.asynccontextmanager
async def plugin_cache_lock(env: dict[str, str]) -> AsyncIterator[None]:
    """Hold the plugin cache of `env` (`TF_PLUGIN_CACHE_DIR`) for one init; no lock without a cache."""
    fd = _open_lock_file(env.get("TF_PLUGIN_CACHE_DIR"))
    if fd is None:
        yield
        return
    try:
        while not _try_lock(fd):
            await asyncio.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # releases the lock


def _open_lock_file(folder: str | None) -> int | None:
    """A descriptor of the cache's lock file; None without a cache folder, or one this user cannot write
    (terraform's init then reports the cache problem itself)."""
    if not folder or not Path(folder).is_dir():
        return None
    try:
        return os.open(Path(folder) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
