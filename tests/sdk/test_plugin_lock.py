"""Stacks' `terraform init`s take turns on the shared plugin cache: concurrent installs into it fail."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from pathlib import Path

import pytest

from stacks_cloud.terraform.local import StackDir
from stacks_cloud.terraform.plugin_lock import LOCK_NAME, plugin_cache_lock

pytestmark = pytest.mark.terraform

AWS_ONLY = {
    "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}},
    "provider": {"aws": [{"region": "us-east-1"}]},
}


def stack(root: Path, name: str, env: dict[str, str]) -> StackDir:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "cdk.tf.json").write_text(json.dumps(AWS_ONLY))
    return StackDir(name, folder, env)


def cache_env(tf_env: dict[str, str], cache: Path) -> dict[str, str]:
    cache.mkdir(exist_ok=True)
    return {**tf_env, "TF_PLUGIN_CACHE_DIR": str(cache)}


def test_six_stacks_initialised_at_once_share_the_cache_without_failing(tmp_path: Path, tf_env: dict[str, str]) -> None:
    # Without the lock, six plain `terraform init`s at once on one cache failed in 2 rounds of 3 here
    # ("failed to create directory ...: file exists", "still not detected in the cache").
    env = cache_env(tf_env, tmp_path / "plugins")

    async def round_of_six(number: int) -> list[bool]:
        stacks = [stack(tmp_path / f"round-{number}", f"s{i}", env) for i in range(6)]
        return list(await asyncio.gather(*(one.init(on_line=None) for one in stacks)))

    for number in range(3):  # every round starts from new folders: every init installs into the cache
        assert asyncio.run(round_of_six(number)) == [True] * 6


def hold(cache: Path) -> int:
    """Lock the cache as another process's init would; close the descriptor to release it."""
    fd = os.open(cache / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_an_init_waits_while_another_run_holds_the_cache(tmp_path: Path, tf_env: dict[str, str]) -> None:
    cache = tmp_path / "plugins"
    env = cache_env(tf_env, cache)
    one = stack(tmp_path, "waiting", env)
    held = hold(cache)

    async def scenario() -> bool:
        init = asyncio.ensure_future(one.init(on_line=None))
        await asyncio.sleep(1.5)
        assert not init.done()
        assert not (one.path / ".terraform").exists()  # terraform has not started
        os.close(held)
        return await asyncio.wait_for(init, timeout=300)

    assert asyncio.run(scenario()) is True
    assert (one.path / ".terraform.lock.hcl").is_file()


def test_a_cancelled_wait_stops_at_once_and_leaves_the_cache_free(tmp_path: Path) -> None:
    cache = tmp_path / "plugins"
    cache.mkdir()
    held = hold(cache)
    entered: list[str] = []

    async def wait_for_cache() -> None:
        async with plugin_cache_lock({"TF_PLUGIN_CACHE_DIR": str(cache)}):
            entered.append("init")

    async def scenario() -> None:
        waiting = asyncio.ensure_future(wait_for_cache())
        await asyncio.sleep(0.3)
        waiting.cancel()  # what Ctrl-C does to a deploy's tasks
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(waiting, timeout=1)

    asyncio.run(scenario())
    assert entered == []
    os.close(held)
    hold_again = hold(cache)  # the cancelled wait kept no lock
    os.close(hold_again)


def test_without_a_plugin_cache_there_is_nothing_to_wait_for(tmp_path: Path) -> None:
    async def enter(env: dict[str, str]) -> bool:
        async with plugin_cache_lock(env):
            return True

    assert asyncio.run(enter({})) is True
    assert asyncio.run(enter({"TF_PLUGIN_CACHE_DIR": str(tmp_path / "missing")})) is True
    assert list(tmp_path.iterdir()) == []


def test_a_lock_file_that_cannot_be_opened_does_not_stop_the_init(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).mkdir()  # in the way: open() fails, as in a cache folder this user cannot write

    async def enter() -> bool:
        async with plugin_cache_lock({"TF_PLUGIN_CACHE_DIR": str(tmp_path)}):
            return True  # terraform's own init reports a cache it cannot use

    assert asyncio.run(enter()) is True


def test_a_command_that_finds_the_provider_mid_reinstall_runs_again_once_the_init_is_done(
    tmp_path: Path, tf_env: dict[str, str]
) -> None:
    # What a full run met: one stack's plan started while another stack's init replaced the provider's
    # entry in the shared cache, and failed "Required plugins are not installed".
    cache = tmp_path / "plugins"
    env = cache_env(tf_env, cache)
    one = stack(tmp_path, "planning", env)
    assert asyncio.run(one.init(on_line=None)) is True
    (entry,) = cache.glob("registry.terraform.io/hashicorp/aws/*/*")
    held = hold(cache)  # another stack's init...
    entry.rename(entry.with_name("reinstalling"))  # ...has removed the entry and not put it back yet
    lines: list[str] = []

    async def scenario() -> int | None:
        command = asyncio.ensure_future(
            one.run(["validate", "-json", "-no-color"], action="validate", timeout=300, on_line=lines.append)
        )
        for _ in range(600):  # the first attempt fails, then waits for the cache
            if command.done() or any("retrying" in line for line in lines):
                break
            await asyncio.sleep(0.1)
        assert not command.done()
        entry.with_name("reinstalling").rename(entry)  # the init is done
        os.close(held)
        result, _ = await asyncio.wait_for(command, timeout=300)
        return result.exit_code

    assert asyncio.run(scenario()) == 0
    assert [line for line in lines if "retrying" in line] == [
        "the provider was being re-installed in the shared plugin cache by another init: retrying"
    ]
