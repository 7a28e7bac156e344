"""rANS: the bounds-checked decoder reads CompressAI's streams exactly, and hostile streams whose
checksum is valid end in CorruptBitstreamError, never in a crash.

Before screen_codec.entropy.rans had its own decoder, CompressAI's C++ decoder read past the end of
such a stream: a 720p stream with its y sections emptied (CRC recomputed) killed the process with
SIGSEGV. The hostile streams (and 200 seeded mutations of a small one) run in a child process so
that a crash fails the test instead of ending the test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from screen_codec._compressai import compressai_module
from screen_codec.entropy import rans
from screen_codec.entropy.latent_coder import EntropyTables, round_residuals
from test_export import exported

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def table() -> rans.CdfTable:
    manifest = json.loads((exported()[1] / "manifest.json").read_text())
    return EntropyTables.from_dict(manifest["entropy_tables"]).gaussian_table


@pytest.mark.parametrize("scale", [4, 300, 2**12, 2**25])
def test_decoder_reads_compressai_streams_exactly(table, scale):
    """Random symbols under random tables, 5 % of them large (escape-coded whenever they leave
    their table), the same stream decoded by CompressAI's decoder and by ours."""
    ans = compressai_module("ans")
    rng = np.random.default_rng(scale)
    for n in (20, 4000):
        indexes = rng.integers(0, len(table.lengths), n).astype(np.int32)
        large = rng.random(n) < 0.05
        values = np.where(large, rng.normal(0, scale, n), rng.normal(0, 2, n))
        symbols = np.rint(values).clip(-rans.MAX_ABS_SYMBOL, rans.MAX_ABS_SYMBOL).astype(np.int32)
        data = rans.encode(symbols, indexes, table)
        cdfs, lengths, offsets = table.as_lists
        theirs = ans.RansDecoder().decode_with_indexes(data, indexes.tolist(), cdfs, lengths, offsets)
        np.testing.assert_array_equal(theirs, symbols)
        np.testing.assert_array_equal(rans.decode(data, indexes, table), symbols)


@pytest.mark.parametrize("scale", [2, 300])
def test_symbol_bits_add_up_to_the_stream_the_encoder_writes(table, scale):
    """symbol_bits prices each symbol as the coder does, escapes included: their sum is the stream's
    length to within its final state (64 bits) and the last word's padding."""
    rng = np.random.default_rng(scale)
    indexes = rng.integers(0, len(table.lengths), 20000).astype(np.int32)
    symbols = np.rint(rng.normal(0, scale, 20000)).astype(np.int32)
    bits = rans.symbol_bits(symbols, indexes, table)
    assert bits.shape == symbols.shape and (bits > 0).all()
    stream_bits = 8 * len(rans.encode(symbols, indexes, table))
    assert 0 <= stream_bits - bits.sum() <= 64 + 32


def test_rate_aware_rounding_steps_only_dear_symbols_toward_the_mean(table):
    """Residuals the narrow distributions mispredict (mean off by ~3 scales, as on the flat pages of
    BENCHMARKS "Phase 67"): each symbol is its nearest integer or one step nearer zero, it steps
    exactly where that saves more than the threshold, and the stream shrinks by more than the
    threshold per step. inf keeps the nearest integers."""
    rng = np.random.default_rng(0)
    indexes = rng.integers(0, 12, 20000).astype(np.int32)  # the narrowest Gaussians of the table
    residuals = rng.normal(3.0, 2.0, 20000).astype(np.float32) * rng.choice([-1, 1], 20000)
    nearest = np.rint(residuals).astype(np.int32)
    np.testing.assert_array_equal(round_residuals(residuals, indexes, table), nearest)

    threshold = 14.0
    rounded = round_residuals(residuals, indexes, table, threshold)
    stepped = rounded != nearest
    np.testing.assert_array_equal(rounded[stepped], nearest[stepped] - np.sign(nearest[stepped]))
    saved = rans.symbol_bits(nearest, indexes, table) - rans.symbol_bits(nearest - np.sign(nearest), indexes, table)
    np.testing.assert_array_equal(stepped, saved > threshold)
    assert 0 < stepped.sum() < stepped.size
    shrunk = 8 * (len(rans.encode(nearest, indexes, table)) - len(rans.encode(rounded, indexes, table)))
    assert shrunk > threshold * stepped.sum()


def test_decoder_refuses_streams_that_do_not_end_with_their_symbols(table):
    indexes = np.full(500, 7, np.int32)
    data = rans.encode(np.arange(500, dtype=np.int32) % 9 - 4, indexes, table)
    for bad, reason in (
        (data[:-4], "ended before|does not end"),
        (data + b"\0\0\0\0", "does not end"),
        (data[:6], "whole number of 32-bit words"),
        (b"", "whole number of 32-bit words"),
    ):
        with pytest.raises(ValueError, match=reason):
            rans.decode(bad, indexes, table)
    with pytest.raises(ValueError, match="not codable"):  # CompressAI's encoder would loop forever
        rans.encode(np.array([rans.MAX_ABS_SYMBOL + 1], np.int32), np.zeros(1, np.int32), table)
    for symbols in (np.zeros(3, np.int32), np.full(100, 10**6, np.int32)):  # it would overrun its buffer
        with pytest.raises(ValueError, match="may not fit"):
            rans.encode(symbols, np.zeros(symbols.size, np.int32), table)


HOSTILE = """
import json, sys
import numpy as np
from screen_codec import bitstream as bs
from service.runtime import CodecRuntime

runtime = CodecRuntime.load(sys.argv[1], providers=["CPUExecutionProvider"], intra_op_threads=1)
rng = np.random.default_rng(0)
rgb = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
good = runtime.encode(rgb, 5, "none").bitstream
stream = bs.unpack(good)
tile = stream.tiles[0]
hostile = {
    "y emptied": bs.TileSections(tile.z, tuple(b"" for _ in tile.y)),
    "y cut to 8 bytes": bs.TileSections(tile.z, tuple(y[:8] for y in tile.y)),
    "y random bytes": bs.TileSections(tile.z, tuple(rng.bytes(len(y)) for y in tile.y)),
    "y all ones": bs.TileSections(tile.z, tuple(b"\\xff" * len(y) for y in tile.y)),
    "y one word longer": bs.TileSections(tile.z, tuple(y + b"\\0\\0\\0\\0" for y in tile.y)),
    "z random bytes": bs.TileSections(rng.bytes(len(tile.z)), tile.y),
    "z emptied": bs.TileSections(b"", tile.y),
}
outcome = {}
for name, sections in hostile.items():
    data = bs.pack(bs.Bitstream(**{**stream.__dict__, "tiles": (sections,)}))  # a valid checksum
    try:
        runtime.decode(data)
        outcome[name] = "decoded"
    except bs.CorruptBitstreamError as error:
        outcome[name] = "corrupt"
outcome["original"] = "decoded" if runtime.decode(good).rgb.shape == rgb.shape else "wrong shape"

# Seeded mutations of a small stream's sections (bit flip, cut, extended, replaced, two swapped),
# each packed with a valid checksum: a typed error or an image of the declared size, nothing else.
small = bs.unpack(runtime.encode(rgb[:150, :300], 4, "none").bitstream)
mutations = {}
for trial in range(200):
    sections = [small.tiles[0].z, *small.tiles[0].y]
    k, op = int(rng.integers(len(sections))), int(rng.integers(5))
    data = bytearray(sections[k])
    if op == 0 and data:
        data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
    elif op == 1:
        data = data[: rng.integers(len(data) + 1)]
    elif op == 2:
        data += rng.bytes(int(rng.integers(1, 9)))
    elif op == 3:
        data = bytearray(rng.bytes(len(data)))
    if op == 4:
        sections[k], sections[-1 - k] = sections[-1 - k], sections[k]
    else:
        sections[k] = bytes(data)
    mutated = bs.Bitstream(**{**small.__dict__, "tiles": (bs.TileSections(sections[0], tuple(sections[1:])),)})
    try:
        result = "decoded" if runtime.decode(bs.pack(mutated)).rgb.shape == (150, 300, 3) else "wrong shape"
    except bs.BitstreamError:
        result = "corrupt"
    except Exception as error:
        result = type(error).__name__
    mutations[result] = mutations.get(result, 0) + 1
print(json.dumps({"hostile": outcome, "mutations": mutations}))
"""


def test_hostile_and_mutated_streams_with_valid_checksums_are_corrupt_not_fatal():
    model_dir = exported()[1]
    result = subprocess.run(
        [sys.executable, "-c", HOSTILE, str(model_dir)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"the decoding process died ({result.returncode}): {result.stderr[-2000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    outcome = report["hostile"]
    assert outcome.pop("original") == "decoded"
    assert outcome == {name: "corrupt" for name in outcome} and len(outcome) == 7
    mutations = report["mutations"]
    assert set(mutations) <= {"corrupt", "decoded"}, mutations
    assert sum(mutations.values()) == 200 and mutations["corrupt"] > 100
