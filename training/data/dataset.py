"""torch Datasets for training: stored crops, an endless synthetic stream, and their mix.

Data flow: data dir or shard tar (shard.open_root) + manifest -> CropDataset[i] = random crop of
(rgb, mask), decoded per sample or once into a decoded cache (decoded.py);  render_screen(random
seed) -> SyntheticStream crops;  MixedStream picks one or the other per sample at a configured
ratio -> {"image": 3xHxW float [0,1], "mask": 1xHxW float {0,1}}.

Randomness: CropDataset seeds each sample from (seed, epoch, index), so results do not depend on
the number of workers; the streams seed from (seed, rank, worker id) via get_worker_info().
"""
from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from . import store
from .decoded import DecodedCache
from .shard import Root, open_root
from .store import Item
from .synthetic import SYNTHETIC_VAL_SEED0, render_screen

Sample = dict[str, torch.Tensor]
MASK_SOURCES = ("gt", "detector", "gt_or_detector")


def to_sample(rgb: np.ndarray, mask: np.ndarray) -> Sample:
    """HxWx3 uint8 + HxW {0,1} -> float tensors (3xHxW in [0,1], 1xHxW)."""
    image = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float().div_(255.0)  # np.array: crops are read-only views
    return {"image": image, "mask": torch.from_numpy(np.array(mask))[None].float()}


def random_crop(rng: np.random.Generator, rgb: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A size x size crop; smaller images are edge-padded first (mask padded with 0)."""
    h, w = mask.shape
    if h < size or w < size:
        ph, pw = max(0, size - h), max(0, size - w)
        rgb = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="edge")
        mask = np.pad(mask, ((0, ph), (0, pw)))
        h, w = mask.shape
    y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    return rgb[y:y + size, x:x + size], mask[y:y + size, x:x + size]


def seed_worker(worker_id: int) -> None:
    """DataLoader worker_init_fn: derive numpy/random seeds from torch's per-worker seed."""
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


class CropDataset(Dataset):
    """Random crops of stored images (screenshots, synthetic sample, natural crops) of one split.

    With ``decoded_cache`` (a directory) each image is decoded once into a memory-mapped array
    (decoded.py); the crops are the same either way.
    """

    def __init__(self, root: Path, split: str = "train", crop: int = 256, kinds: tuple[str, ...] | None = None,
                 mask_source: str = "gt_or_detector", seed: int = 0, decoded_cache: Path | None = None) -> None:
        if mask_source not in MASK_SOURCES:
            raise ValueError(f"mask_source must be one of {MASK_SOURCES}")
        self.root: Root = open_root(root)
        items = store.parse_manifest(self.root.read(store.MANIFEST))
        self.items = [it for it in items if it.split == split and (kinds is None or it.kind in kinds)]
        self.crop, self.mask_source, self.seed, self.epoch = crop, mask_source, seed, 0
        self.decoded = DecodedCache(decoded_cache) if decoded_cache is not None else None
        self._keys: dict[int, str] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def _encoded(self, it: Item) -> tuple[bytes, bytes | None]:
        """The stored image's bytes and its mask's (None: no mask of the configured source)."""
        order = {"gt": (it.gt_mask,), "detector": (it.det_mask,), "gt_or_detector": (it.gt_mask, it.det_mask)}
        mask_file = next((rel for rel in order[self.mask_source] if rel), None)
        return self.root.read(it.image), self.root.read(mask_file) if mask_file else None

    @staticmethod
    def _decode(it: Item, image_bytes: bytes, mask_bytes: bytes | None) -> tuple[np.ndarray, np.ndarray]:
        rgb = store.load_rgb(io.BytesIO(image_bytes))
        if mask_bytes is None:  # natural crop without a cached detector mask
            return rgb, np.zeros((it.height, it.width), np.uint8)
        return rgb, store.load_mask(io.BytesIO(mask_bytes))

    def _image_and_mask(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        it = self.items[index]
        if self.decoded is None:
            return self._decode(it, *self._encoded(it))
        key = self._keys.get(index)
        if key is None:  # hashed once per process; later samples read only the memory map
            key = self._keys[index] = DecodedCache.key(*self._encoded(it))
        return self.decoded.load(key, lambda: self._decode(it, *self._encoded(it)))

    def sample(self, index: int, rng: np.random.Generator) -> Sample:
        """A crop of item `index` placed by `rng`."""
        return to_sample(*random_crop(rng, *self._image_and_mask(index), self.crop))

    def __getitem__(self, index: int) -> Sample:
        return self.sample(index, np.random.default_rng([self.seed, self.epoch, index]))


def _stream_rng(seed: int, rank: int) -> np.random.Generator:
    info = get_worker_info()
    return np.random.default_rng([seed, rank, info.id if info else 0])


@dataclass
class SyntheticStream(IterableDataset):
    """Endless crops of freshly rendered synthetic screens (seeds below the val seed range).

    Each screen gives crops_per_screen crops, amortising the ~0.1 s render over several samples.
    """

    crop: int = 256
    crops_per_screen: int = 4
    sizes: tuple[tuple[int, int], ...] = ((1280, 720), (1366, 768), (1920, 1080), (1024, 768))
    seed: int = 0
    rank: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    def __iter__(self) -> Iterator[Sample]:
        rng = _stream_rng(self.seed, self.rank)
        while True:
            w, h = self.sizes[rng.integers(len(self.sizes))]
            screen = render_screen(int(rng.integers(0, SYNTHETIC_VAL_SEED0)), w, h)
            for _ in range(self.crops_per_screen):
                yield to_sample(*random_crop(rng, screen.rgb, screen.text_mask, self.crop))


class MixedStream(IterableDataset):
    """Endless training samples: synthetic with probability synthetic_ratio, else a stored crop."""

    def __init__(self, stored: CropDataset, synthetic: SyntheticStream, synthetic_ratio: float = 0.5,
                 seed: int = 0, rank: int = 0) -> None:
        super().__init__()
        if len(stored) == 0 and synthetic_ratio < 1:
            raise ValueError("no stored items for this split; use synthetic_ratio=1")
        self.stored, self.synthetic, self.ratio, self.seed, self.rank = stored, synthetic, synthetic_ratio, seed, rank

    def __iter__(self) -> Iterator[Sample]:
        rng = _stream_rng(self.seed, self.rank)
        synth = iter(self.synthetic)
        while True:
            if rng.random() < self.ratio:
                yield next(synth)
            else:
                yield self.stored.sample(int(rng.integers(len(self.stored))), rng)
