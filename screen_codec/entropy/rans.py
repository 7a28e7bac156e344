"""rANS coding of integer symbols with indexed, quantised CDF tables (CompressAI's stream format).

Encoding is CompressAI's C++ ``ans`` module (ryg_rans, 64-bit state, 32-bit words, 16-bit CDF
precision, out-of-range values escape-coded in 4-bit groups), loaded through
``screen_codec._compressai`` so that this module, and the serving runtime built on it, never import
torch. Decoding is :func:`decode`, the same arithmetic re-implemented with every read checked:
CompressAI's decoder trusts its input and reads past the end of a stream that does not decode
(a 720p stream whose y sections were emptied, CRC recomputed, killed the process with SIGSEGV), and
streams come from clients. A :class:`CdfTable` is pure data: the PyTorch model exports it, the
runtime reads it from the model manifest, and both code with it here.

Decoding, per symbol with table k = indexes[i] (ryg_rans' rans64 arithmetic)::

    cum = x mod 2^16 ──first cdf_k[s+1] > cum──► s ──x = f_s * (x >> 16) + cum - c_s──► renorm
    s == escape (len_k - 2) ──► n = 4-bit count (15 = more) ──n x 4 bits──► raw ──zigzag──► value
    renorm: x < 2^31 ──► x = (x << 32) | next word        (a read past the last word: error)

A stream the encoder wrote ends exactly on its last word with x back at the encoder's initial
state 2^31; anything else is reported as corrupt.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba
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


MAX_ABS_SYMBOL = 1 << 26  # CompressAI's escape loop never ends from 2^27 on (a shift by 32)


def encode(symbols: np.ndarray, indexes: np.ndarray, table: CdfTable) -> bytes:
    """rANS-encode integer ``symbols``, each with the distribution ``table[indexes]``."""
    if symbols.shape != indexes.shape:
        raise ValueError("symbols and indexes must have the same shape")
    flat_symbols, flat_indexes = symbols.reshape(-1).astype(np.int32), indexes.reshape(-1).astype(np.int32)
    _check_codable(flat_symbols, flat_indexes, table)
    cdfs, lengths, offsets = table.as_lists
    return _ans.RansEncoder().encode_with_indexes(flat_symbols.tolist(), flat_indexes.tolist(), cdfs, lengths, offsets)


def _escape_payload_bits(values: np.ndarray, escape: np.ndarray) -> np.ndarray:
    """Bits written after each escape symbol: a 4-bit group count and 4 bits per group of the
    zigzagged out-of-range ``values`` (table-relative; ``escape`` is each one's escape symbol)."""
    values = values.astype(np.int64)
    raw = np.where(values < 0, -2 * values - 1, 2 * (values - escape))
    return 4 + 4 * -(-np.ceil(np.log2(raw + 1)) // 4)


def _table_positions(
    symbols: np.ndarray, indexes: np.ndarray, table: CdfTable
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each symbol's table-relative value, its table's escape symbol, and whether it is escaped."""
    values = symbols - table.offsets[indexes]  # |values| < 2^27: int32 holds them
    escape = table.lengths[indexes] - 2
    return values, escape, (values < 0) | (values >= escape)


def _check_codable(symbols: np.ndarray, indexes: np.ndarray, table: CdfTable) -> None:
    """Refuse what CompressAI's encoder would loop on forever (|symbol| > MAX_ABS_SYMBOL) or write
    past its buffer: one 32-bit word per symbol, unchecked. A symbol costs at most 16 bits; an
    escaped one 16 + 4 (group count) + 4 per group of its zigzagged value; the final state 64 bits."""
    if symbols.size and max(-int(symbols.min()), int(symbols.max())) > MAX_ABS_SYMBOL:
        raise ValueError(f"a latent symbol exceeds {MAX_ABS_SYMBOL} in magnitude: not codable")
    values, escape, escaped = _table_positions(symbols, indexes, table)
    bits = 16 * symbols.size + float(np.sum(_escape_payload_bits(values[escaped], escape[escaped]))) + 128
    if bits > 32 * symbols.size:
        raise ValueError(
            f"{symbols.size} symbols ({int(escaped.sum())} escaped) may not fit the rANS encoder's buffer"
        )


def symbol_bits(symbols: np.ndarray, indexes: np.ndarray, table: CdfTable) -> np.ndarray:
    """What each symbol costs in a stream of :func:`encode`, in bits (shaped like ``symbols``):
    -log2 of its quantised probability, and for an escaped one the escape symbol's plus its payload."""
    values, escape, escaped = _table_positions(symbols, indexes, table)
    coded = np.where(escaped, escape, values)
    bits = _PRECISION - np.log2(table.cdfs[indexes, coded + 1] - table.cdfs[indexes, coded])
    bits[escaped] += _escape_payload_bits(values[escaped], escape[escaped])
    return bits


def decode(data: bytes, indexes: np.ndarray, table: CdfTable) -> np.ndarray:
    """Inverse of :func:`encode`: the int32 symbols, shaped like ``indexes``. Raises ValueError when
    ``data`` is not a stream of these indexes (never reads outside it)."""
    if len(data) % 4 or len(data) < 8:
        raise ValueError(f"a rANS stream is a whole number of 32-bit words, at least 2; got {len(data)} bytes")
    words = np.frombuffer(data, dtype="<u4")
    flat = np.ascontiguousarray(indexes.reshape(-1), dtype=np.int32)
    if flat.size and (flat.min() < 0 or flat.max() >= len(table.lengths)):
        raise ValueError("CDF index outside the table")
    symbols = np.empty(flat.size, dtype=np.int32)
    status = _decode_words(words, flat, table.cdfs, table.lengths, table.offsets, symbols)
    if status != _OK:
        raise ValueError(_ERRORS[status])
    return symbols.reshape(indexes.shape)


_OK, _READ_PAST_END, _ESCAPE_TOO_LONG, _NOT_AT_END = range(4)
_ERRORS = {
    _READ_PAST_END: "rANS stream ended before its last symbol",
    _ESCAPE_TOO_LONG: "rANS escape longer than a 32-bit value",
    _NOT_AT_END: "rANS stream does not end where its last symbol does",
}
_PRECISION = 16
_BYPASS_BITS = 4
_MAX_BYPASS_GROUPS = 8  # the encoder escapes int32 values: at most 8 groups of 4 bits


# No on-disk cache (numba raises at import where it finds no writable cache directory, e.g. a
# read-only root filesystem): each process compiles at its first decode, ~0.8 s.
@numba.njit(nogil=True)
def _renorm(x: np.uint64, words: np.ndarray, pos: int) -> tuple[np.uint64, int]:
    """x < 2^31: shift in the next word; pos = -1 when there is none."""
    if x < np.uint64(1 << 31):
        if pos >= words.shape[0]:
            return x, -1
        x = (x << np.uint64(32)) | np.uint64(words[pos])
        pos += 1
    return x, pos


@numba.njit(nogil=True)
def _decode_words(
    words: np.ndarray, indexes: np.ndarray, cdfs: np.ndarray, lengths: np.ndarray, offsets: np.ndarray,
    out: np.ndarray,
) -> int:
    mask = np.uint64((1 << _PRECISION) - 1)
    bypass_mask = np.uint64((1 << _BYPASS_BITS) - 1)
    x = np.uint64(words[0]) | (np.uint64(words[1]) << np.uint64(32))
    pos = 2
    for i in range(indexes.shape[0]):
        k = indexes[i]
        escape = lengths[k] - 2
        cum = np.int64(x & mask)
        s = 0
        while s < escape and cdfs[k, s + 1] <= cum:
            s += 1
        start = np.uint64(cdfs[k, s])
        x = np.uint64(cdfs[k, s + 1] - cdfs[k, s]) * (x >> np.uint64(_PRECISION)) + (x & mask) - start
        x, pos = _renorm(x, words, pos)
        if pos < 0:
            return _READ_PAST_END
        value = np.int64(s)
        if s == escape:
            groups = 0
            group = np.int64(bypass_mask)
            while group == np.int64(bypass_mask):  # the count of 4-bit groups, 15 meaning "and more"
                group = np.int64(x & bypass_mask)
                x, pos = _renorm(x >> np.uint64(_BYPASS_BITS), words, pos)
                if pos < 0:
                    return _READ_PAST_END
                groups += group
                if groups > _MAX_BYPASS_GROUPS:
                    return _ESCAPE_TOO_LONG
            raw = np.int64(0)
            for j in range(groups):
                raw |= np.int64(x & bypass_mask) << np.int64(_BYPASS_BITS * j)
                x, pos = _renorm(x >> np.uint64(_BYPASS_BITS), words, pos)
                if pos < 0:
                    return _READ_PAST_END
            value = -(raw >> 1) - 1 if raw & 1 else (raw >> 1) + escape
        out[i] = value + offsets[k]
    if pos != words.shape[0] or x != np.uint64(1 << 31):
        return _NOT_AT_END
    return _OK
