"""Compact shard: a diverse subset of a data dir packed into one tar (<= 44 MiB) for a GPU host.

Data flow: data dir manifest -> items interleaved round-robin over (split, source) -> files added
as-is (lossless WebP screens, JPEG crops, PNG masks) until the byte budget -> <shard>.tar with its own
manifest.json.  Reading: open_root(path) gives one read(relpath) interface over a dir or a tar.
"""
from __future__ import annotations

import argparse
import io
import json
import tarfile
from collections import defaultdict
from dataclasses import asdict
from itertools import zip_longest
from pathlib import Path
from typing import Protocol

from . import store
from .store import Item

# The GPU host takes 64 MiB in all: code 4.4 MiB + checkpoint 12.7 MiB + wheel 0.4 MiB + this.
MAX_SHARD_BYTES = 44 * 1024 * 1024
_TAR_BLOCK = 512


class Root(Protocol):
    """Where dataset files live: read a file by its path relative to the data root."""

    def read(self, rel: str) -> bytes: ...


class DirRoot:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self, rel: str) -> bytes:
        return (self.path / rel).read_bytes()


class TarRoot:
    """A whole shard held in memory (it is small by construction), so workers never share a file handle."""

    def __init__(self, path: Path) -> None:
        with tarfile.open(path) as tar:
            self.files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]

    def read(self, rel: str) -> bytes:
        return self.files[rel]


def open_root(path: Path) -> Root:
    return TarRoot(path) if Path(path).suffix == ".tar" else DirRoot(path)


def _tar_size(n_bytes: int) -> int:
    return _TAR_BLOCK + -(-n_bytes // _TAR_BLOCK) * _TAR_BLOCK  # header + data padded to whole blocks


def _files_of(item: Item) -> list[str]:
    return [p for p in (item.image, item.gt_mask, item.det_mask) if p]


def select_items(data_dir: Path, items: list[Item], max_bytes: int) -> list[Item]:
    """Round-robin over (split, source) groups, adding whole items while they fit in max_bytes."""
    groups: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for it in items:
        groups[(it.split, it.source)].append(it)
    chosen, used = [], 2 * _TAR_BLOCK * 2 + 64 * 1024  # end-of-archive blocks + room for the manifest
    for row in zip_longest(*(groups[k] for k in sorted(groups))):
        for it in row:
            if it is None:
                continue
            size = sum(_tar_size((data_dir / f).stat().st_size) for f in _files_of(it))
            if used + size <= max_bytes:
                chosen.append(it)
                used += size
    return chosen


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


def write_shard(data_dir: Path, out: Path, max_bytes: int = MAX_SHARD_BYTES, splits: tuple[str, ...] = store.SPLITS) -> dict:
    """Pack a subset of data_dir into the tar `out`; returns counts and size."""
    items = [it for it in store.read_manifest(data_dir) if it.split in splits]
    chosen = select_items(data_dir, items, max_bytes)
    out.parent.mkdir(parents=True, exist_ok=True)
    manifest = json.dumps({"items": [asdict(it) for it in chosen], "from": str(data_dir)}).encode()
    # ustar with fixed metadata: one header block per file (as budgeted) and byte-identical rebuilds
    with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as tar:
        _add(tar, store.MANIFEST, manifest)
        for it in chosen:
            for rel in _files_of(it):
                _add(tar, rel, (data_dir / rel).read_bytes())
    counts: dict[str, int] = defaultdict(int)
    for it in chosen:
        counts[f"{it.split}/{it.kind}"] += 1
    return {"path": str(out), "bytes": out.stat().st_size, "items": len(chosen), "of": len(items), "counts": dict(counts)}


def main() -> None:
    ap = argparse.ArgumentParser(description="Pack a data dir into a compact shard tar.")
    ap.add_argument("--data", type=Path, default=Path("data"))
    ap.add_argument("--out", type=Path, default=Path("data/shard.tar"))
    ap.add_argument("--max-mib", type=float, default=MAX_SHARD_BYTES / 2**20)
    args = ap.parse_args()
    print(json.dumps(write_shard(args.data, args.out, int(args.max_mib * 2**20)), indent=1))


if __name__ == "__main__":
    main()
