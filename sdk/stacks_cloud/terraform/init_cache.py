"""Initialised working directories kept per stack, so `terraform init` runs only when what it reads changed.

Every deploy applies a fresh synth in a fresh folder, which `terraform init` would set up again: the
backend, the provider plugins (links into the shared plugin cache, never copies) and the lock file.
What init produces depends only on the stack's `terraform` block (backend and required providers),
the CLI configuration (a provider mirror), the plugin cache and the terraform binary. `InitCache`
keeps each stack's `.terraform` folder and lock file after a successful init, with a digest of those
inputs, and puts them back in the next folder of the same stack when the digest is the same.

Anything unexpected (a changed input, a cache being replaced by a concurrent run, a missing file)
means "no reuse": terraform init then runs as it always did.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

INIT_DIR = ".terraform"
LOCK_FILE = ".terraform.lock.hcl"
DIGEST_FILE = "init-inputs.sha256"


def init_inputs_digest(stack_dir: Path, env: dict[str, str]) -> str:
    """A digest of everything `terraform init` in `stack_dir` depends on (with `env` as its environment)."""
    digest = hashlib.sha256()
    document = json.loads((stack_dir / "cdk.tf.json").read_text())
    digest.update(json.dumps(document.get("terraform", {}), sort_keys=True).encode())
    for name in ("TF_CLI_CONFIG_FILE", "TF_PLUGIN_CACHE_DIR", "TF_DATA_DIR", "TF_WORKSPACE"):
        digest.update(f"\0{name}={env.get(name, '')}".encode())
    config_file = env.get("TF_CLI_CONFIG_FILE")
    if config_file and Path(config_file).is_file():
        digest.update(Path(config_file).read_bytes())
    lock = stack_dir / LOCK_FILE
    digest.update(lock.read_bytes() if lock.is_file() else b"\0no lock file")
    binary = shutil.which("terraform", path=env.get("PATH"))
    if binary:
        info = Path(binary).stat()
        digest.update(f"\0{Path(binary).resolve()}:{info.st_size}:{info.st_mtime_ns}".encode())
    return digest.hexdigest()


class InitCache:
    """The kept `terraform init` results of a project's stacks, one folder per stack under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _entry(self, stack: str) -> Path:
        return self.root / stack

    def restore(self, stack: str, stack_dir: Path, digest: str) -> bool:
        """Put the kept init of `stack` into `stack_dir` if it was made from the same inputs; True if it was."""
        entry = self._entry(stack)
        try:
            if (entry / DIGEST_FILE).read_text() != digest or not (entry / INIT_DIR).is_dir():
                return False
            target = stack_dir / INIT_DIR
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(entry / INIT_DIR, target, symlinks=True)
            if (entry / LOCK_FILE).is_file():
                shutil.copy2(entry / LOCK_FILE, stack_dir / LOCK_FILE)
            if (entry / DIGEST_FILE).read_text() != digest:  # replaced while we copied: not ours
                shutil.rmtree(target, ignore_errors=True)
                return False
        except OSError:
            shutil.rmtree(stack_dir / INIT_DIR, ignore_errors=True)
            return False
        return True

    def save(self, stack: str, stack_dir: Path, digest: str) -> None:
        """Keep `stack_dir`'s fresh init for the next run of `stack` (replacing the previous one at once)."""
        entry = self._entry(stack)
        staging = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
        old = entry.with_name(f".{entry.name}.{os.getpid()}.old")
        try:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(stack_dir / INIT_DIR, staging / INIT_DIR, symlinks=True)
            if (stack_dir / LOCK_FILE).is_file():
                shutil.copy2(stack_dir / LOCK_FILE, staging / LOCK_FILE)
            (staging / DIGEST_FILE).write_text(digest)
            if entry.exists():
                entry.rename(old)
            staging.rename(entry)
        except OSError:
            return  # keeping it is an optimisation: the next run initialises again
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)
