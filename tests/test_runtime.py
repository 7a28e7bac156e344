"""service.runtime.CodecRuntime on an exported model (the tiny seeded one from test_export.py).

Both worlds drive the same coding loop (screen_codec.codec) and the same integer entropy-parameter
arithmetic (screen_codec.entropy.integer_networks), so streams made by PyTorch decode in the runtime
and the reverse to identical latents, on the tiny model and on the trained default. g_a and g_s stay
float32 and differ in the last bits between PyTorch and ONNX Runtime: an encoder may round a value
that sits on a .5 the other way (a different but valid stream), and g_s may round a rare pixel the
other way (checked: <= 1 code value on at most 0.1% of pixels).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from pages import render_page
from screen_codec import codec
from screen_codec.bitstream import Bitstream, CorruptBitstreamError, ForeignModelError, pack, unpack
from service.runtime import CodecRuntime, ModelDirectoryError
from test_export import exported

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return exported()[1]


@pytest.fixture(scope="module")
def runtime(model_dir) -> CodecRuntime:
    return CodecRuntime.load(model_dir, intra_op_threads=1)


@pytest.fixture(scope="module")
def torch_nets():
    from screen_codec.models.torch_networks import TorchNetworks

    return TorchNetworks(exported()[0])


def _page(width=160, height=112, seed=5):
    rgb, boxes = render_page(width, height, seed=seed)
    mask = np.zeros((height, width), np.uint8)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = 1
    return rgb, mask


def _assert_same_image(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    assert diff.max() <= 1 and (diff > 0).mean() <= 1e-3


def test_load_reports_the_model(runtime, model_dir):
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert runtime.model_id == manifest["model_id"]
    assert runtime.providers[-1] == "CPUExecutionProvider"  # what ORT really runs (no GPU here)
    assert runtime.describe()["entropy_parameters"] == "integer-v1"
    assert [q.index for q in runtime.qualities] == [1, 2, 3, 4, 5]
    assert runtime.qualities[0].lmbda == manifest["qualities"][0]["lambda"]
    assert runtime.default_quality == 3
    assert "none" in runtime.detectors and "morph" in runtime.detectors and "craft" not in runtime.detectors
    assert runtime.default_detector == "morph"


def test_torch_stream_decodes_in_the_runtime_and_the_reverse(runtime, torch_nets):
    rgb, mask = _page()
    torch_stream = codec.encode_image(torch_nets, rgb, mask, 4, 0, runtime.options.rounding_threshold_bits)
    runtime_stream = runtime.encode(rgb, 4, mask).bitstream
    assert runtime_stream == torch_stream  # same symbols, same CDFs: the same bytes
    torch_image = codec.decode_image(torch_nets, runtime_stream)
    runtime_image = runtime.decode(torch_stream).rgb
    _assert_same_image(runtime_image, torch_image)
    # the runtime reproduces PyTorch's decoded latents bit for bit
    stream = unpack(torch_stream)
    y_t, z_t = codec.decode_tile_latents(torch_nets, stream.tiles[0], 160, 112, 4)
    y_o, z_o = codec.decode_tile_latents(runtime.networks, stream.tiles[0], 160, 112, 4)
    np.testing.assert_array_equal(z_o, z_t)
    np.testing.assert_array_equal(y_o, y_t)
    assert np.abs(y_t).max() > 1  # non-trivial latents


@pytest.mark.parametrize(
    "model,name,quality",
    [("default", "composed_chat_dark", 1), ("default", "nodejs_fs_dark", 5), ("lite", "python_os_light", 3)],
)
def test_trained_bundled_streams_cross_between_worlds_exactly(model, name, quality):
    """The must-show of the export: on a bundled trained model and a real 1280x720 screenshot,
    each world's stream decodes in the other to exactly the latents its encoder had."""
    from screen_codec.models.torch_networks import TorchNetworks
    from test_codec import _screenshot
    from training.checkpoint import load_compact

    model_dir = REPO / "models" / model
    runtime = CodecRuntime.load(model_dir, providers=["CPUExecutionProvider"])
    torch_nets = TorchNetworks(load_compact(model_dir / "compact.pt")[0])
    rgb, mask = _screenshot(name, 1280, 720)
    for encoder, decoder in ((torch_nets, runtime.networks), (runtime.networks, torch_nets)):
        code = codec.encode_tile(encoder, rgb, mask, quality)
        y_hat, z_hat = codec.decode_tile_latents(decoder, code.sections, 1280, 720, quality)
        np.testing.assert_array_equal(z_hat, code.z_hat)
        np.testing.assert_array_equal(y_hat, code.y_hat)
        _assert_same_image(
            codec.reconstruct(decoder, y_hat, z_hat, quality, 1280, 720),
            codec.reconstruct(encoder, code.y_hat, code.z_hat, quality, 1280, 720),
        )


def test_the_runtime_encodes_with_its_rate_aware_rounding():
    """RuntimeOptions.rounding_threshold_bits reaches the encoder: on the trained default at q1 (where
    the rounding steps symbols) its streams are smaller than the nearest-integer encoder's, and both
    decode, the decoder needing no option. A threshold that is not a positive number is refused."""
    from screen_codec.entropy.latent_coder import RATE_AWARE_ROUNDING_BITS
    from test_codec import _screenshot

    model_dir = REPO / "models" / "default"
    rgb, mask = _screenshot("postgres_select_dark", 512, 384)
    rounded = CodecRuntime.load(model_dir, providers=["CPUExecutionProvider"], check_reference_streams=False)
    nearest = CodecRuntime.load(
        model_dir, providers=["CPUExecutionProvider"], check_reference_streams=False,
        rounding_threshold_bits=float("inf"),
    )
    assert rounded.describe()["rounding_threshold_bits"] == RATE_AWARE_ROUNDING_BITS
    small, large = (runtime.encode(rgb, 1, mask).bitstream for runtime in (rounded, nearest))
    assert len(small) < len(large)
    for stream in (small, large):
        assert nearest.decode(stream).rgb.shape == rgb.shape
    with pytest.raises(ValueError, match="rounding_threshold_bits"):
        CodecRuntime.load(model_dir, check_reference_streams=False, rounding_threshold_bits=0.0)


def test_encoding_is_byte_identical_and_decoding_deterministic(runtime):
    rgb, mask = _page(seed=9)
    first = runtime.encode(rgb, 2, mask)
    assert runtime.encode(rgb, 2, mask).bitstream == first.bitstream
    assert (first.width, first.height) == (160, 112)
    assert first.bpp == pytest.approx(len(first.bitstream) * 8 / (160 * 112))
    assert set(first.timings_ms) == {"detect", "analysis", "hyper", "entropy"}
    decoded = runtime.decode(first.bitstream)
    np.testing.assert_array_equal(runtime.decode(first.bitstream).rgb, decoded.rgb)
    assert decoded.rgb.dtype == np.uint8 and decoded.rgb.shape == rgb.shape
    assert set(decoded.timings_ms) == {"entropy", "hyper", "synthesis"}


def test_concurrent_requests_give_the_same_streams(runtime):
    rgb, mask = _page(seed=11)
    expected = runtime.encode(rgb, 5, mask).bitstream
    results: list[bytes] = []

    def work():
        results.append(runtime.encode(rgb, 5, mask).bitstream)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 3


def test_text_masks_detectors_and_bad_requests(runtime):
    rgb, _ = _page(96, 64)
    by_name = runtime.encode(rgb, 3, "none").bitstream
    assert runtime.encode(rgb, 3, np.ones((64, 96), np.uint8) * 255).bitstream == by_name  # nonzero = text
    assert runtime.encode(rgb, 3, "morph").bitstream == runtime.encode(rgb, 3).bitstream  # model default
    with pytest.raises(ValueError, match="detector"):
        runtime.encode(rgb, 3, "craft")
    with pytest.raises(ValueError, match="shape"):
        runtime.encode(rgb, 3, np.ones((10, 10), np.uint8))
    with pytest.raises(ValueError, match="quality"):
        runtime.encode(rgb, 9)
    with pytest.raises(ValueError):
        runtime.encode(rgb.astype(np.float32), 3)


def test_large_images_are_tiled(model_dir):
    tiled = CodecRuntime.load(model_dir, intra_op_threads=1, tile_size=64)
    rgb, mask = _page(150, 70)
    data = tiled.encode(rgb, 3, mask).bitstream
    stream = unpack(data)
    assert stream.tile_size == 64 and len(stream.tiles) == 3 * 2
    assert tiled.decode(data).rgb.shape == rgb.shape
    small = tiled.encode(rgb[:64, :64], 3, mask[:64, :64]).bitstream
    assert unpack(small).tile_size == 0  # at most one tile: not tiled


def test_fp16_synthesis_decodes_close_to_fp32(model_dir, runtime):
    half = CodecRuntime.load(model_dir, intra_op_threads=1, precision="fp16")
    assert runtime.synthesis_precision == "fp32" and half.synthesis_precision == "fp16"  # auto: fp32 on CPU
    rgb, mask = _page(seed=13)
    data = runtime.encode(rgb, 3, mask).bitstream
    assert half.encode(rgb, 3, mask).bitstream == data  # analysis and entropy path are fp32 in both
    full, approx = runtime.decode(data).rgb, half.decode(data).rgb
    assert np.abs(full.astype(np.int16) - approx.astype(np.int16)).max() <= 3


def test_foreign_streams_are_refused(runtime, tmp_path):
    rgb, mask = _page(64, 64)
    data = bytearray(runtime.encode(rgb, 3, mask).bitstream)
    stream = unpack(bytes(data))
    other = pack(Bitstream(3, b"\x00" * 8, 64, 64, 0, stream.tiles))
    with pytest.raises(ForeignModelError):
        runtime.decode(other)


def test_non_finite_reconstructions_are_refused(runtime):
    """What a derailed rANS decode (CDF indexes computed differently) ends in: an error, not garbage."""
    nets = runtime.networks
    y_hat = np.full((1, 80, 4, 4), np.inf, np.float32)
    with pytest.raises(CorruptBitstreamError, match="entropy-parameter arithmetic"):
        nets.synthesise(y_hat, np.zeros((1, 48, 1, 1), np.float32), 3)


def test_tampered_model_directories_are_refused(model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    target = copy / "entropy_parameters.npz"
    blob = bytearray(target.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    target.write_bytes(bytes(blob))
    with pytest.raises(ModelDirectoryError, match=r"sha256 of entropy_parameters\.npz"):
        CodecRuntime.load(copy)

    shutil.copy(model_dir / "entropy_parameters.npz", target)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["entropy_tables"]["scale_table"][3] += 1e-3
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelDirectoryError, match="entropy tables"):
        CodecRuntime.load(copy)

    (copy / "synthesis.onnx").unlink()
    with pytest.raises(ModelDirectoryError, match="synthesis.onnx"):
        CodecRuntime.load(copy)
    with pytest.raises(ModelDirectoryError, match="manifest.json is missing"):
        CodecRuntime.load(tmp_path)


def test_runtime_does_not_import_torch(model_dir):
    script = f"""
import sys
import numpy as np
from service.runtime import CodecRuntime
rt = CodecRuntime.load({str(model_dir)!r}, intra_op_threads=1)
rgb = np.zeros((70, 90, 3), np.uint8); rgb[20:40, 10:80] = 200
out = rt.decode(rt.encode(rgb, 3).bitstream).rgb
assert out.shape == rgb.shape
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision", "compressai.entropy_models"))
print("HEAVY", heavy)
assert not heavy, heavy
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "HEAVY []" in result.stdout
