"""Parity of an exported model directory with the PyTorch model it came from (run by every export).

For each check image (a seeded random image, a rendered page with its exact word-box mask, a real
screenshot from tests/test_service_screens) at the lowest and highest quality:

1. Network by network, on the same inputs (PyTorch's own latents fed to both, so nothing cascades):
   analysis (y, z) and synthesis, whose largest difference relative to the output's range must stay
   below ``NETWORK_TOLERANCE`` (float32 reordering gives ~1e-6; a wrong export gives O(1)); and the
   integer entropy-parameter path (hyper, each slice's mean/scale, each LRP) as loaded from the
   exported arrays vs as quantised from the PyTorch model, which must be *identical*.
2. The quantisation decisions of the analysis network on those outputs: z and y symbols. Every
   decision that differs must be *ambiguous*: the PyTorch value lies within float tolerance of a
   rounding boundary (.5). An unambiguous difference fails the export.
3. Whole codec, each world on its own: encode_tile + decode, |PSNR(ONNX) - PSNR(PyTorch)| must be
   < 0.01 dB, and the quantised latents of the two encoders must be equal (unless step 2 found an
   ambiguous decision, which legitimately changes the symbols coded after it).
4. Cross decoding, gated: PyTorch's stream decodes in the runtime and the runtime's stream in
   PyTorch to exactly the latents the encoder had (the integer entropy path makes every CDF index
   identical), and to an image whose PSNR is within 0.01 dB of the encoder world's own decode
   (g_s itself is float32 in both worlds: a pixel may differ by one code value).
5. The float16 synthesis graph, when exported: PSNR within 0.1 dB of PyTorch's float32 g_s.

The report (numbers per image) goes into the manifest under "parity".
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from screen_codec import codec
from screen_codec.metrics import psnr
from screen_codec.entropy.latent_coder import EntropyParameters
from screen_codec.models import ScreenContentCodec
from screen_codec.models.torch_networks import TorchNetworks

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
SCREENS = REPO / "tests" / "test_service_screens"
PSNR_TOLERANCE_DB = 0.01
FP16_PSNR_TOLERANCE_DB = 0.1  # the float16 synthesis graph (GPU), run here on the CPU provider
NETWORK_TOLERANCE = 1e-3  # max |onnx - torch| / max |torch| per network output
ROUNDING_AMBIGUITY = 1e-3  # |v - (k + 0.5)| below this: rounding may go either way


class ParityError(AssertionError):
    """ONNX Runtime and PyTorch disagree beyond the tolerances above."""


# ---------------------------------------------------------------- check images
def _page(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from pages import render_page
    finally:
        sys.path.pop(0)
    rgb, boxes = render_page(width, height, seed=7)
    mask = np.zeros((height, width), np.uint8)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = 1
    return rgb, mask


def _screenshot(max_side: int) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    from screen_codec.detectors import text_mask

    path = sorted(SCREENS.glob("*.png"))[-1]
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)[:max_side, :max_side])
    return rgb, text_mask(rgb, "morph")


def check_images(names: Sequence[str], size: int = 256) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The named check images with their text masks (random: uniform noise + a random mask)."""
    images = {}
    rng = np.random.default_rng(2024)
    for name in names:
        if name == "random":
            rgb = rng.integers(0, 256, (size * 3 // 4 + 5, size + 3, 3), dtype=np.uint8)
            images[name] = (rgb, (rng.random(rgb.shape[:2]) > 0.7).astype(np.uint8))
        elif name == "page":
            images[name] = _page(size * 2, size * 3 // 2)
        elif name == "screenshot":
            images[name] = _screenshot(size * 2)
        else:
            raise ValueError(f"unknown parity image {name!r}")
    return images


# ---------------------------------------------------------------- 1-2: network by network
class _Decisions:
    """Counts of quantisation decisions that differ, split into ambiguous / unexplained."""

    def __init__(self) -> None:
        self.counts = {"symbols": 0, "symbol_ambiguous": 0, "symbol_unexplained": 0}
        self.worst: dict[str, float] = {}

    def rounding(self, reference: np.ndarray, other: np.ndarray) -> None:
        """round(reference) vs round(other) (values already offset by their means)."""
        differ = np.rint(reference) != np.rint(other)
        self.counts["symbols"] += reference.size
        if differ.any():
            ambiguous = np.abs(np.abs(reference - np.floor(reference)) - 0.5) < ROUNDING_AMBIGUITY
            self.counts["symbol_ambiguous"] += int((differ & ambiguous).sum())
            self.counts["symbol_unexplained"] += int((differ & ~ambiguous).sum())

    def network(self, name: str, reference: np.ndarray, other: np.ndarray) -> None:
        scale = max(float(np.abs(reference).max()), 1e-6)
        self.worst[name] = max(self.worst.get(name, 0.0), float(np.abs(other - reference).max()) / scale)


def _network_report(
    torch_nets: TorchNetworks, onnx_nets: codec.CodecNetworks, rgb: np.ndarray, mask: np.ndarray,
    quality: int, code: codec.TileCode,
) -> dict[str, Any]:
    d = _Decisions()
    tables = torch_nets.tables
    x, m = codec.network_input(rgb, mask)
    y_t, z_t = torch_nets.analyse(x, m, quality)
    y_o, z_o = onnx_nets.analyse(x, m, quality)
    d.network("analysis.y", y_t, y_o)
    d.network("analysis.z", z_t, z_o)
    medians = tables.z_medians.reshape(1, -1, 1, 1)
    d.rounding(z_t - medians, z_o - medians)

    entropy_equal = _entropy_path_equal(torch_nets.entropy, onnx_nets.entropy, code, quality)
    means, scales = torch_nets.entropy.hyper(code.z_hat, quality)
    slices = torch_nets.entropy.num_slices
    width = y_t.shape[1] // slices
    decoded = [code.y_hat[:, k * width : (k + 1) * width] for k in range(slices)]
    for k in range(slices):
        mu, _ = torch_nets.entropy.slice_moments(k, means, scales, decoded[:k], quality)
        d.rounding(y_t[:, k * width : (k + 1) * width] - mu, y_o[:, k * width : (k + 1) * width] - mu)
    d.network("synthesis", torch_nets.synthesise(code.y_hat, code.z_hat, quality),
              onnx_nets.synthesise(code.y_hat, code.z_hat, quality))
    return {"max_relative_diff": d.worst, "decisions": d.counts, "entropy_path_identical": entropy_equal}


def _entropy_path_equal(
    reference: EntropyParameters, other: EntropyParameters, code: codec.TileCode, quality: int
) -> bool:
    """Every output of the two entropy-parameter paths on the same inputs, compared bit for bit."""
    outputs = []
    for params in (reference, other):
        means, scales = params.hyper(code.z_hat, quality)
        width = code.y_hat.shape[1] // params.num_slices
        decoded = [code.y_hat[:, k * width : (k + 1) * width] for k in range(params.num_slices)]
        values = [means, scales]
        for k in range(params.num_slices):
            values += params.slice_moments(k, means, scales, decoded[:k], quality)
            values.append(params.refine(k, means, decoded[:k], decoded[k]))
        outputs.append(values)
    return all(np.array_equal(a, b) for a, b in zip(*outputs))


# ---------------------------------------------------------------- 3-4: whole codec
def _cross_decode(
    decoder: codec.CodecNetworks, code: codec.TileCode, width: int, height: int, quality: int
) -> tuple[dict[str, Any], np.ndarray | None]:
    try:
        y_hat, z_hat = codec.decode_tile_latents(decoder, code.sections, width, height, quality)
    except Exception as error:  # a derailed rANS decoder
        return {"ok": False, "error": str(error)}, None
    y_diff = np.abs(y_hat - code.y_hat)
    ok = bool(np.array_equal(z_hat, code.z_hat) and np.array_equal(y_hat, code.y_hat))
    report = {"ok": ok, "y_latents_differing": int((y_diff > 0).sum())}
    if not ok:
        return report, None
    return report, codec.reconstruct(decoder, y_hat, z_hat, quality, width, height)


def compare(
    torch_nets: TorchNetworks, onnx_nets: codec.CodecNetworks, rgb: np.ndarray, mask: np.ndarray, quality: int,
) -> tuple[dict[str, Any], list[str]]:
    """One image at one quality: (report, failures)."""
    height, width = mask.shape
    code_t = codec.encode_tile(torch_nets, rgb, mask, quality)
    code_o = codec.encode_tile(onnx_nets, rgb, mask, quality)
    image_t = codec.reconstruct(torch_nets, code_t.y_hat, code_t.z_hat, quality, width, height)
    image_o = codec.reconstruct(onnx_nets, code_o.y_hat, code_o.z_hat, quality, width, height)
    networks = _network_report(torch_nets, onnx_nets, rgb, mask, quality, code_t)
    decisions = networks["decisions"]
    y_diff = np.abs(code_t.y_hat - code_o.y_hat)
    latents = {
        "z_equal": bool(np.array_equal(code_t.z_hat, code_o.z_hat)),
        "y_symbols_differing": int((y_diff > 0.5).sum()),
        "streams_equal": code_t.sections == code_o.sections,
    }
    cross_to_onnx, image_to = _cross_decode(onnx_nets, code_t, width, height, quality)
    cross_to_torch, image_ot = _cross_decode(torch_nets, code_o, width, height, quality)
    report: dict[str, Any] = {
        "size": [width, height],
        "quality": quality,
        "networks": networks,
        "latents": latents,
        "torch_stream_in_onnx": cross_to_onnx,
        "onnx_stream_in_torch": cross_to_torch,
        "psnr_torch": psnr(rgb, image_t),
        "psnr_onnx": psnr(rgb, image_o),
        "pixels_differing": int((image_t != image_o).any(axis=2).sum()),
    }
    failures = []
    for name, value in networks["max_relative_diff"].items():
        if not value < NETWORK_TOLERANCE:
            failures.append(f"{name} differs by {value:.2e} of its range (limit {NETWORK_TOLERANCE})")
    if not networks["entropy_path_identical"]:
        failures.append("the exported integer entropy-parameter path differs from the model's")
    if decisions["symbol_unexplained"]:
        failures.append(f"quantisation decisions differ away from any boundary: {decisions}")
    if not decisions["symbol_ambiguous"] and not (latents["z_equal"] and latents["y_symbols_differing"] == 0):
        failures.append(f"quantised latents differ: {latents}")
    for key, image, own in (("torch_stream_in_onnx", image_to, image_t), ("onnx_stream_in_torch", image_ot, image_o)):
        if image is None:
            failures.append(f"{key}: cross decoding failed: {report[key]}")
            continue
        report[key]["psnr"] = psnr(rgb, image)
        report[key]["pixels_differing_from_own_decode"] = int((image != own).any(axis=2).sum())
        if not abs(report[key]["psnr"] - psnr(rgb, own)) < PSNR_TOLERANCE_DB:
            failures.append(f"{key}: cross-decoded PSNR {report[key]['psnr']:.4f} dB vs {psnr(rgb, own):.4f} dB")
    report["psnr_gap_db"] = abs(report["psnr_onnx"] - report["psnr_torch"])
    if not report["psnr_gap_db"] < PSNR_TOLERANCE_DB:
        failures.append(f"PSNR differs by {report['psnr_gap_db']:.4f} dB (limit {PSNR_TOLERANCE_DB})")
    return report, failures


def _check_fp16(
    model_dir: Path, torch_nets: TorchNetworks, images: dict, qualities: Sequence[int], failures: list[str],
) -> dict[str, Any]:
    """PSNR of the float16 synthesis graph vs PyTorch's float32 g_s on the same latents. It changes
    only the reconstruction, never decodability, so the tolerance is looser."""
    from service.runtime import CodecRuntime

    half = CodecRuntime.load(model_dir, providers=["CPUExecutionProvider"], precision="fp16",
                               check_reference_streams=False).networks
    report: dict[str, Any] = {"tolerance_db": FP16_PSNR_TOLERANCE_DB, "images": {}}
    for name, (rgb, mask) in images.items():
        height, width = mask.shape
        for quality in qualities:
            code = codec.encode_tile(torch_nets, rgb, mask, quality)
            image_t = codec.reconstruct(torch_nets, code.y_hat, code.z_hat, quality, width, height)
            image_h = codec.reconstruct(half, code.y_hat, code.z_hat, quality, width, height)
            gap = abs(psnr(rgb, image_h) - psnr(rgb, image_t))
            report["images"][f"{name}@q{quality}"] = {
                "psnr_torch": psnr(rgb, image_t), "psnr_fp16": psnr(rgb, image_h), "gap_db": gap,
            }
            if not gap < FP16_PSNR_TOLERANCE_DB:
                failures.append(
                    f"{name} q{quality}: fp16 synthesis PSNR differs by {gap:.4f} dB (limit {FP16_PSNR_TOLERANCE_DB})"
                )
    return report


def check(
    model: ScreenContentCodec,
    model_dir: Path,
    images: Sequence[str] = ("random", "page", "screenshot"),
    qualities: Sequence[int] | None = None,
    size: int = 256,
) -> dict[str, Any]:
    """Run the parity checks of the module docstring; raises ParityError listing every failure."""
    from service.runtime import CodecRuntime

    runtime = CodecRuntime.load(
        model_dir, providers=["CPUExecutionProvider"], check_reference_streams=False
    )
    onnx_nets = runtime.networks
    torch_nets = TorchNetworks(model)
    if torch_nets.model_id != onnx_nets.model_id:
        raise ParityError(f"model id {torch_nets.model_id.hex()} != manifest's {onnx_nets.model_id.hex()}")
    if qualities is None:
        qualities = sorted({1, model.config.num_qualities})
    reports: dict[str, Any] = {
        "providers": runtime.providers,
        "tolerances": {
            "psnr_db": PSNR_TOLERANCE_DB, "network_relative": NETWORK_TOLERANCE,
            "rounding_ambiguity": ROUNDING_AMBIGUITY,
        },
        "images": {},
    }
    failures: list[str] = []
    checked = check_images(images, size)
    for name, (rgb, mask) in checked.items():
        for quality in qualities:
            report, failed = compare(torch_nets, onnx_nets, rgb, mask, quality)
            reports["images"][f"{name}@q{quality}"] = report
            failures += [f"{name} q{quality}: {f}" for f in failed]
            log.info(
                "parity %s q%d: %s; PSNR %.3f / %.3f dB; ambiguous decisions %s; cross decodes %s/%s",
                name, quality, "FAIL" if failed else "ok", report["psnr_torch"], report["psnr_onnx"],
                {k: v for k, v in report["networks"]["decisions"].items() if k != "symbols"},
                report["torch_stream_in_onnx"]["ok"], report["onnx_stream_in_torch"]["ok"],
            )
    if "synthesis_fp16" in runtime.manifest["graphs"]:
        reports["fp16_synthesis"] = _check_fp16(model_dir, torch_nets, checked, qualities, failures)
    if failures:
        raise ParityError("ONNX export disagrees with PyTorch:\n  " + "\n  ".join(failures))
    return reports
