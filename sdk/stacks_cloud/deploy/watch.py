"""`cloud synth --watch`: one process (and one jsii kernel) re-synthesizes on every change to the project's
Python files (or the config file), and says which stacks' Terraform changed.

The project's own modules are dropped from `sys.modules` before each synth, so the next one imports
the edited files; the SDK, cdktf and the provider bindings stay loaded, which is where the time of a
cold synth goes. A synth that fails (a config error, a syntax error) is reported and the previous
`cdktf.out` stays; the next change is tried again. Ctrl-C stops it.
"""

from __future__ import annotations

import hashlib
import signal
import time
from collections.abc import Callable
from pathlib import Path

from stacks_cloud.config import CloudConfig
from stacks_cloud.core.errors import ConfigError
from stacks_cloud.deploy.project import Project, forget_project_modules, load_app
from stacks_cloud.stacks.app import synth_atomically

POLL_SECONDS = 0.2
IGNORED_PARTS = frozenset({".venv", "node_modules", "cdktf.out", ".cache", ".state", ".git", "__pycache__", "tests"})


def watched_files(root: Path, extra: list[Path]) -> dict[Path, str]:
    """Each project Python file (and `extra`, the config file) with a digest of its content.

    Content, not modification times: an editor's save truncates then writes, both within one tick of
    the file system's clock, and a poll between the two must not be the last one seen."""
    paths = [path for path in root.rglob("*.py") if not IGNORED_PARTS.intersection(path.relative_to(root).parts)]
    files = {}
    for path in [*paths, *extra]:
        try:
            files[path] = hashlib.sha1(path.read_bytes()).hexdigest()
        except OSError:
            continue
    return files


def stack_documents(outdir: Path) -> dict[str, bytes]:
    stacks = outdir / "stacks"
    if not stacks.is_dir():
        return {}
    return {p.name: (p / "cdk.tf.json").read_bytes() for p in stacks.iterdir() if (p / "cdk.tf.json").is_file()}


def describe_change(before: dict[str, bytes], after: dict[str, bytes], seconds: float) -> str:
    """The line for one synth: how long it took and which stacks' Terraform changed."""
    changed = sorted(name for name in after if before.get(name) != after[name])
    removed = sorted(set(before) - set(after))
    if not before:
        return f"synthesized {len(after)} stack(s) in {seconds:.2f} s"
    if not (changed or removed):
        return f"re-synthesized in {seconds:.2f} s; no stack changed"
    parts = [f"changed: {', '.join(changed)}"] if changed else []
    parts += [f"removed: {', '.join(removed)}"] if removed else []
    return f"re-synthesized in {seconds:.2f} s; {'; '.join(parts)}"


def synth_once(project: Project, load: Callable[[Project], CloudConfig], started: float) -> str:
    """Build and write `project`'s stacks; the line to say. `started` is when the change was seen
    (re-importing the project counts too). A failed synth keeps `cdktf.out` as it was."""
    outdir = project.root / "cdktf.out"
    before = stack_documents(outdir)
    try:
        config = load(project)
        synth_atomically(outdir, lambda app: project.app.build(config, app=app, project_dir=project.root))
    except ConfigError as error:
        return f"synth failed ({time.perf_counter() - started:.2f} s), cdktf.out kept:\n{error}"
    except Exception as error:  # the user's construct code raised: say so, keep watching
        return f"synth failed ({type(error).__name__}: {error}), cdktf.out kept"
    return describe_change(before, stack_documents(outdir), time.perf_counter() - started)


def watch(
    project: Project,
    load: Callable[[Project], CloudConfig],
    *,
    config_file: Path | None,
    say: Callable[[str], None],
    max_rounds: int | None = None,
) -> None:
    """Synthesize now, then after every change; `say` gets one line per synth. Stops on Ctrl-C (or after
    `max_rounds` synths, for tests)."""
    root = project.root
    stop: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: stop.append(signum))  # ends the loop, not a synth
    try:
        say(synth_once(project, load, time.perf_counter()))
        rounds = 1
        extra = [config_file] if config_file else []
        seen = watched_files(root, extra)
        say(f"watching {len(seen)} file(s) under {root}; Ctrl-C stops")
        while not stop and (max_rounds is None or rounds < max_rounds):
            time.sleep(POLL_SECONDS)
            now = watched_files(root, extra)
            if now == seen:
                continue
            seen, started, rounds = now, time.perf_counter(), rounds + 1
            forget_project_modules(root)
            try:
                current = Project(root, load_app(root))
            except ConfigError as error:
                say(f"synth failed, cdktf.out kept:\n{error}")
                continue
            say(synth_once(current, load, started))
    finally:
        signal.signal(signal.SIGINT, previous)
