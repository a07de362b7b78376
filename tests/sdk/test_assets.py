"""Function code zipped in Python (`stacks_cloud.cdk.assets`): cdktf ARCHIVE asset JSON, no Node process."""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import pytest

import stacks_cloud.cdk as cdk
from stacks_cloud.cdk import assets
from stacks_cloud.constructs import Code, Function


@pytest.fixture
def code(tmp_path: Path) -> Path:
    """A function folder with an executable, a nested file and names whose sort order matters."""
    folder = tmp_path / "code"
    (folder / "lib" / "deep").mkdir(parents=True)
    (folder / "bootstrap").write_text("#!/bin/sh\necho hello\n")
    (folder / "bootstrap").chmod(0o755)
    (folder / "Zeta.txt").write_text("upper case sorts first")
    (folder / "_under").write_text("underscore")
    (folder / "lib" / "deep" / "data.json").write_text('{"a": 1}')
    (folder / "lib" / "a.py").write_text("print('a')\n")
    return folder


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("STACKS_CLOUD_CACHE_DIR", str(directory))
    return directory


def test_asset_hash_is_cdktfs_own(code: Path, tmp_path: Path) -> None:
    """cdktf hashes the folder itself for an ARCHIVE asset; ours must agree, or every path would change."""
    stack = cdk.TerraformStack(cdk.Testing.app(outdir=str(tmp_path / "out")), "hash")
    theirs = cdk.TerraformAsset(stack, "Theirs", path=str(code), type=cdk.AssetType.ARCHIVE)
    assert assets.folder_hash(code).asset_hash == theirs.asset_hash
    (code / "lib" / "a.py").write_text("print('changed')\n")
    changed = cdk.TerraformAsset(stack, "Changed", path=str(code), type=cdk.AssetType.ARCHIVE)
    assert assets.folder_hash(code).asset_hash == changed.asset_hash != theirs.asset_hash


def _synth_two_stacks(code: Path, outdir: Path) -> dict[str, dict[str, object]]:
    app = cdk.App(outdir=str(outdir), skip_validation=True)  # no provider: the stacks are never applied
    for name in ("one", "two"):
        stack = cdk.TerraformStack(app, name)
        Function(stack, "Fn", function_name=f"fn-{name}", handler="bootstrap", code=Code.from_asset(code))
    app.synth()
    functions = {}
    for name in ("one", "two"):
        synthesized = json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text())
        (functions[name],) = synthesized["resource"]["aws_lambda_function"].values()
    return functions


def test_each_stack_gets_the_zip_with_files_and_modes(code: Path, tmp_path: Path, cache: Path) -> None:
    functions = _synth_two_stacks(code, tmp_path / "out")
    digest = assets.folder_hash(code).asset_hash
    for name, function in functions.items():
        assert function["source_code_hash"] == digest
        assert str(function["filename"]).endswith(f"/{digest}/archive.zip")
        with zipfile.ZipFile(tmp_path / "out" / "stacks" / name / str(function["filename"])) as archive:
            assert archive.namelist() == ["Zeta.txt", "_under", "bootstrap", "lib/a.py", "lib/deep/data.json"]
            assert archive.read("lib/deep/data.json") == b'{"a": 1}'
            modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert modes["bootstrap"] == 0o100755
    assert modes["lib/a.py"] == 0o100644
    assert len(list((cache / "archives").iterdir())) == 1, "one zip for the two stacks"


def test_zip_is_reproducible_and_reused(code: Path, tmp_path: Path, cache: Path) -> None:
    _synth_two_stacks(code, tmp_path / "first")
    (cached,) = (cache / "archives").glob("*/archive.zip")
    first = cached.read_bytes()
    os.utime(code / "bootstrap", (1, 1))  # a touched file: same content, same zip
    cached.unlink()
    _synth_two_stacks(code, tmp_path / "second")
    assert cached.read_bytes() == first
    assert [path.read_bytes() for path in (tmp_path / "second" / "stacks").glob("*/assets/*/*/archive.zip")] == [
        first,
        first,
    ]


def test_a_renamed_file_gets_its_own_zip(code: Path) -> None:
    """cdktf's hash covers contents only; the cache key covers names too, so the zip is never a stale one."""
    before = assets.folder_hash(code)
    zipped_before, _ = assets.zip_folder(code)
    (code / "lib" / "a.py").rename(code / "lib" / "b.py")
    after = assets.folder_hash(code)
    zipped_after, _ = assets.zip_folder(code)
    assert after.asset_hash == before.asset_hash  # what cdktf would give: unchanged
    assert after.cache_key != before.cache_key
    with zipfile.ZipFile(zipped_after) as archive:
        assert "lib/b.py" in archive.namelist()
        assert "lib/a.py" not in archive.namelist()
    assert zipped_before.is_file()


def test_unused_zips_are_pruned(code: Path, cache: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "bootstrap").write_text("old")
    old, _ = assets.zip_folder(other)
    recent_folder = tmp_path / "recent"
    recent_folder.mkdir()
    (recent_folder / "bootstrap").write_text("recent")
    recent, _ = assets.zip_folder(recent_folder)
    long_ago = time.time() - (assets.KEEP_UNUSED_DAYS + 1) * 86400
    os.utime(old, (long_ago, long_ago))
    assets.zip_folder(code)
    assert not old.parent.exists()
    assert recent.is_file()


def test_unwritable_cache_falls_back_to_cdktf(code: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("STACKS_CLOUD_CACHE_DIR", str(blocker))
    functions = _synth_two_stacks(code, tmp_path / "out")
    digest = assets.folder_hash(code).asset_hash
    assert functions["one"]["source_code_hash"] == digest
    with zipfile.ZipFile(tmp_path / "out" / "stacks" / "one" / str(functions["one"]["filename"])) as archive:
        assert "lib/deep/data.json" in archive.namelist()
