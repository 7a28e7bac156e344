"""rANS coding of integer symbols with indexed, quantised CDF tables (CompressAI's coder).

CompressAI's C++ ``ans`` module (ryg_rans, 64-bit state, 16-bit CDF precision, out-of-range
values escape-coded) is loaded through ``screen_codec._compressai`` so that this module, and the
serving runtime built on it, never import torch. A :class:`CdfTable` is pure data: the PyTorch
model exports it, the runtime reads it from the model manifest, and both code with it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .._compressai import compressai_module

_ans = compressai_module("ans")


@dataclass(frozen=True, eq=False)
class CdfTable:
    """K discrete distributions: ``cdfs[k, :lengths[k]]`` is the quantised CDF of distribution k,
    whose first symbol is ``offsets[k]``."""

    cdfs: np.ndarray  # (K, L) int32
    lengths: np.ndarray  # (K,) int32
    offsets: np.ndarray  # (K,) int32

    @cached_property
    def as_lists(self) -> tuple[list[list[int]], list[int], list[int]]:
        """The table as the Python lists the C++ coder takes (converted once)."""
        cdfs = [row[:length].tolist() for row, length in zip(self.cdfs, self.lengths)]
        return cdfs, self.lengths.tolist(), self.offsets.tolist()

    def to_dict(self) -> dict:
        return {
            "cdfs": self.cdfs.tolist(),
            "lengths": self.lengths.tolist(),
            "offsets": self.offsets.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "CdfTable":
        return cls(
            cdfs=np.asarray(data["cdfs"], dtype=np.int32),
            lengths=np.asarray(data["lengths"], dtype=np.int32),
            offsets=np.asarray(data["offsets"], dtype=np.int32),
        )


def encode(symbols: np.ndarray, indexes: np.ndarray, table: CdfTable) -> bytes:
    """rANS-encode integer ``symbols``, each with the distribution ``table[indexes]``."""
    if symbols.shape != indexes.shape:
        raise ValueError("symbols and indexes must have the same shape")
    cdfs, lengths, offsets = table.as_lists
    return _ans.RansEncoder().encode_with_indexes(
        symbols.reshape(-1).astype(np.int32).tolist(),
        indexes.reshape(-1).astype(np.int32).tolist(),
        cdfs,
        lengths,
        offsets,
    )


def decode(data: bytes, indexes: np.ndarray, table: CdfTable) -> np.ndarray:
    """Inverse of :func:`encode`: the int32 symbols, shaped like ``indexes``."""
    cdfs, lengths, offsets = table.as_lists
    values = _ans.RansDecoder().decode_with_indexes(
        data, indexes.reshape(-1).astype(np.int32).tolist(), cdfs, lengths, offsets
    )
    return np.asarray(values, dtype=np.int32).reshape(indexes.shape)
