"""Function code as a zip asset, zipped in Python once per content instead of once per stack in Node.

cdktf's `AssetType.ARCHIVE` zips a folder at `app.synth()` by starting a new Node process for every
asset (`archiveSync` runs `node fs.js src dest`): about 0.25 s each, so a 20-region app paid 5 s to zip
the same folder 20 times. `archive_asset` zips the folder here, once per content, into a content-
addressed cache (`<cache>/archives/<digest>/archive.zip`, see `_fastload.cache_dir`), and hands cdktf a
`FILE` asset, which it merely copies into each stack's folder.

The synthesized JSON does not change: the asset keeps cdktf's hash (`folder_hash`, the same md5 of
the files' bytes in the same order), so its path (`assets/<id>/<hash>/archive.zip`) and the function's
`source_code_hash` are what the ARCHIVE asset gave. The zip itself is reproducible (sorted entries,
fixed timestamps, 0644/0755 modes), unlike Node's, which carries each file's mtime.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cdktf import AssetType, TerraformAsset
from constructs import Construct

from stacks_cloud.cdk._fastload import cache_dir

ARCHIVE_NAME = "archive.zip"
"""cdktf's name for an ARCHIVE asset's file; kept so asset paths do not change."""
KEEP_UNUSED_DAYS = 30
"""Cached zips not used for this long are removed when a new one is written."""
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class FolderDigest:
    """What `folder_hash` reads from a folder: cdktf's asset hash, and the key of its zip in the cache."""

    asset_hash: str
    """cdktf's `hashPath`: md5 of the files' contents, names sorted, depth first; 32 upper-case hex digits."""
    cache_key: str
    """sha256 over each file's relative path, executable bit and contents: what the zip holds."""
    files: tuple[tuple[str, Path, bool], ...]
    """(path inside the zip, file, executable) in zip order."""


def folder_hash(folder: Path) -> FolderDigest:
    """Read `folder` once: cdktf's hash of it (so paths stay as cdktf makes them) and our cache key.

    cdktf hashes only contents, not names; the cache key also covers names and modes, so two folders
    with the same bytes under other names never share a zip.
    """
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    files: list[tuple[str, Path, bool]] = []

    def walk(path: Path, relative: str) -> None:
        info = path.stat()  # follows symbolic links, as cdktf's statSync does
        if stat.S_ISREG(info.st_mode):
            data = path.read_bytes()
            executable = bool(info.st_mode & 0o111)
            md5.update(data)
            sha.update(f"{relative}\0{int(executable)}\0{len(data)}\0".encode())
            sha.update(data)
            files.append((relative, path, executable))
        elif stat.S_ISDIR(info.st_mode):
            for name in sorted(os.listdir(path)):  # Node's readdirSync order (libuv sorts by bytes)
                walk(path / name, f"{relative}/{name}" if relative else name)

    walk(folder, "")
    return FolderDigest(md5.hexdigest().upper()[:32], sha.hexdigest(), tuple(files))


def zip_folder(folder: Path) -> tuple[Path, str]:
    """The cached zip of `folder` (written on first use) and cdktf's asset hash of the folder."""
    digest = folder_hash(folder)
    target = cache_dir() / "archives" / digest.cache_key / ARCHIVE_NAME
    if target.is_file():
        os.utime(target)  # recently used: not pruned
        return target, digest.asset_hash
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{ARCHIVE_NAME}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for name, path, executable in digest.files:
                entry = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
                entry.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, path.read_bytes())
        os.replace(partial, target)  # concurrent synths write the same bytes: the last rename wins
    finally:
        partial.unlink(missing_ok=True)
    _prune(target.parent.parent, keep=target.parent)
    return target, digest.asset_hash


def _prune(archives: Path, *, keep: Path) -> None:
    cutoff = time.time() - KEEP_UNUSED_DAYS * 86400
    for entry in archives.iterdir():
        zipped = entry / ARCHIVE_NAME
        try:
            if entry != keep and zipped.stat().st_mtime < cutoff:
                zipped.unlink()
                entry.rmdir()
        except OSError:
            continue  # in use by another synth, or already gone


def archive_asset(scope: Construct, construct_id: str, folder: Path) -> TerraformAsset:
    """A zip of `folder` as a cdktf asset: what `TerraformAsset(type=ARCHIVE)` gives, without a Node process.

    When the cache cannot be written (a read-only home, a full disk), falls back to cdktf's own
    ARCHIVE asset: slower, same JSON.
    """
    try:
        zipped, asset_hash = zip_folder(folder)
    except OSError:
        return TerraformAsset(scope, construct_id, path=str(folder), type=AssetType.ARCHIVE)
    return TerraformAsset(scope, construct_id, path=str(zipped), type=AssetType.FILE, asset_hash=asset_hash)
