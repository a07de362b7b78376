"""A stack's `terraform init` is kept and reused while its backend, providers and lock file are unchanged.

Runs the real terraform (through the provider mirror when there is one) in fresh folders, as each
deploy does.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from stacks_cloud.terraform.init_cache import INIT_DIR, LOCK_FILE, InitCache
from stacks_cloud.terraform.local import StackDir

pytestmark = pytest.mark.terraform


def stack_document(state_path: str) -> dict[str, object]:
    return {
        "terraform": {
            "backend": {"local": {"path": state_path}},
            "required_providers": {"aws": {"source": "aws", "version": "5.100.0"}},
        },
        "provider": {"aws": [{"region": "us-east-1", "skip_credentials_validation": True}]},
        "resource": {"aws_sqs_queue": {"q": {"name": "q"}}},
    }


def fresh_stack(root: Path, name: str, document: dict[str, object]) -> Path:
    """A new synthesized folder for the stack, as a deploy's work folder is."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "cdk.tf.json").write_text(json.dumps(document))
    return folder


def init(folder: Path, env: dict[str, str], cache: InitCache) -> tuple[bool, list[str]]:
    lines: list[str] = []
    ran = asyncio.run(StackDir("shop-dev-us-east-1", folder, env).init(on_line=lines.append, cache=cache))
    return ran, lines


def test_a_kept_init_is_reused_until_an_input_changes(tmp_path: Path, tf_env: dict[str, str]) -> None:
    cache = InitCache(tmp_path / "cache")
    env = tf_env
    state = str(tmp_path / "state" / "shop.tfstate")

    first = fresh_stack(tmp_path, "deploy-1", stack_document(state))
    assert init(first, env, cache)[0] is True  # nothing kept yet: terraform init ran
    provider = next((first / INIT_DIR / "providers").rglob("linux_amd64"))
    assert provider.is_symlink(), "the plugin is linked from the shared cache, not copied per stack"
    assert not provider.resolve().is_relative_to(first)  # the mirror's or the plugin cache's copy

    second = fresh_stack(tmp_path, "deploy-2", stack_document(state))
    ran, lines = init(second, env, cache)
    assert ran is False
    assert any("reused the last init" in line for line in lines)
    assert (second / LOCK_FILE).read_text() == (first / LOCK_FILE).read_text()
    # terraform itself accepts the reused folder (validate refuses a folder without its providers installed)
    validate = subprocess.run(
        ["terraform", "validate", "-no-color"],
        cwd=second,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert validate.returncode == 0, validate.stderr
    assert "The configuration is valid" in validate.stdout

    moved = fresh_stack(tmp_path, "deploy-3", stack_document(str(tmp_path / "elsewhere.tfstate")))
    assert init(moved, env, cache)[0] is True, "a changed backend is initialised again"
    assert (
        init(fresh_stack(tmp_path, "deploy-4", stack_document(str(tmp_path / "elsewhere.tfstate"))), env, cache)[0]
        is False
    )

    other_cli = tmp_path / "other.tfrc"
    shutil.copy(env["TF_CLI_CONFIG_FILE"], other_cli)
    other_cli.write_text(other_cli.read_text() + "\n# another mirror\n")
    changed_cli = fresh_stack(tmp_path, "deploy-5", stack_document(str(tmp_path / "elsewhere.tfstate")))
    assert init(changed_cli, {**env, "TF_CLI_CONFIG_FILE": str(other_cli)}, cache)[0] is True


def test_a_cache_replaced_mid_copy_or_unreadable_means_init(tmp_path: Path) -> None:
    cache = InitCache(tmp_path / "cache")
    folder = tmp_path / "stack"
    folder.mkdir()
    (folder / "cdk.tf.json").write_text(json.dumps(stack_document("s.tfstate")))
    assert cache.restore("s", folder, "digest") is False  # nothing kept
    (tmp_path / "cache" / "s").mkdir(parents=True)
    (tmp_path / "cache" / "s" / "init-inputs.sha256").write_text("digest")
    assert cache.restore("s", folder, "digest") is False  # a digest without its .terraform folder
    assert not (folder / INIT_DIR).exists()
