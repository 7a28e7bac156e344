"""Decoded-image cache: stored images kept decoded on disk and memory-mapped for cropping.

A crop of a lossless-WebP screenshot costs a whole-image decode (~30 ms for 1920x1080 on one EPYC
core), about three of them per 8-crop batch of the 128x128 CPU recipe (the two-process run went from
2.53 to 2.67 it/s with the cache; docs/TRAINING.md). The cache decodes each (image, mask) pair once
into an HxWx4 uint8 array (RGB + mask) in a .npy file; a crop then reads only its rows through a
memory map, and the OS page cache is shared by every rank and DataLoader worker.

Data flow: image bytes + mask bytes -> sha1 key -> <dir>/<key>.npy (written once, atomically by
rename, so concurrent writers are harmless) -> np.load(mmap_mode="r") -> (rgb view, mask view).
Keys hash the encoded bytes, so a rebuilt data dir or another data dir never reads a stale entry.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np

RGBM_CHANNELS = 4  # R, G, B, text mask {0,1}


class DecodedCache:
    """Content-addressed store of decoded HxWx4 (RGB + mask) arrays under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(image_bytes: bytes, mask_bytes: bytes | None) -> str:
        digest = hashlib.sha1(image_bytes)
        digest.update(b"\0mask\0" + (mask_bytes if mask_bytes is not None else b""))
        return digest.hexdigest()

    def load(self, key: str, decode: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """(HxWx3 rgb, HxW mask) views of the entry ``key``, running ``decode`` once if it is missing."""
        path = self.directory / f"{key}.npy"
        if not path.exists():
            rgb, mask = decode()
            rgbm = np.concatenate([rgb, mask[..., None].astype(np.uint8)], axis=2)
            partial = path.with_name(f"{key}.{os.getpid()}.partial.npy")
            np.save(partial, rgbm)
            os.replace(partial, path)
        rgbm = np.load(path, mmap_mode="r")
        if rgbm.ndim != 3 or rgbm.shape[2] != RGBM_CHANNELS:
            raise ValueError(f"{path}: expected HxWx{RGBM_CHANNELS}, found {rgbm.shape}")
        return rgbm[..., :3], rgbm[..., 3]
