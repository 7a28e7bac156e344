"""Parity of an exported model directory with the PyTorch model it came from (run by every export).

For each check image (a seeded random image, a rendered page with its exact word-box mask, a real
screenshot from tests/test_service_screens) and the lowest and highest quality:

    PyTorch (TorchNetworks)  ──encode_tile──► stream_t, y^_t, z^_t ──decode──► image_t
    ONNX (CodecRuntime, CPU) ──encode_tile──► stream_o, y^_o, z^_o ──decode──► image_o
    cross:  stream_t decoded by ONNX, stream_o decoded by PyTorch

and requires
  * latents equal after quantisation: z^_o == z^_t exactly, and no element of y^ more than 0.5
    apart (y^ = symbol + mean + LRP, so a differing symbol shows as a difference of ~1),
  * both cross decodes reproduce the other side's quantised latents (the entropy-parameter graphs
    pick the same CDF for every symbol; a different one derails the rANS decoder),
  * |PSNR(image_o) - PSNR(image_t)| < 0.01 dB, for the own and the cross-decoded streams.
The report (numbers per image) goes into the manifest under "parity".
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from screen_codec import codec
from screen_codec.models import ScreenContentCodec
from screen_codec.models.torch_networks import TorchNetworks

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
SCREENS = REPO / "tests" / "test_service_screens"
PSNR_TOLERANCE_DB = 0.01
FP16_PSNR_TOLERANCE_DB = 0.1  # the float16 synthesis graph (GPU), run here on the CPU provider


class ParityError(AssertionError):
    """ONNX Runtime and PyTorch disagree beyond the tolerances above."""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _page(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    import sys

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


def _latent_report(a: codec.TileCode, b: codec.TileCode) -> dict[str, Any]:
    y_diff = np.abs(a.y_hat - b.y_hat)
    return {
        "z_equal": bool(np.array_equal(a.z_hat, b.z_hat)),
        "y_symbols_differing": int((y_diff > 0.5).sum()),
        "y_max_abs_diff": float(y_diff.max()),
        "sections_equal": a.sections == b.sections,
    }


def _cross_decode(
    decoder: codec.CodecNetworks, code: codec.TileCode, width: int, height: int, quality: int
) -> tuple[dict[str, Any], np.ndarray | None]:
    try:
        y_hat, z_hat = codec.decode_tile_latents(decoder, code.sections, width, height, quality)
    except Exception as error:  # a derailed rANS decoder
        return {"ok": False, "error": str(error)}, None
    y_diff = np.abs(y_hat - code.y_hat)
    ok = bool(np.array_equal(z_hat, code.z_hat) and (y_diff <= 0.5).all())
    report = {"ok": ok, "y_symbols_differing": int((y_diff > 0.5).sum()), "y_max_abs_diff": float(y_diff.max())}
    return report, codec.reconstruct(decoder, y_hat, z_hat, quality, width, height)


def compare(
    torch_nets: codec.CodecNetworks,
    onnx_nets: codec.CodecNetworks,
    rgb: np.ndarray,
    mask: np.ndarray,
    quality: int,
) -> tuple[dict[str, Any], list[str]]:
    """One image at one quality: (report, failures)."""
    height, width = mask.shape
    code_t = codec.encode_tile(torch_nets, rgb, mask, quality)
    code_o = codec.encode_tile(onnx_nets, rgb, mask, quality)
    image_t = codec.reconstruct(torch_nets, code_t.y_hat, code_t.z_hat, quality, width, height)
    image_o = codec.reconstruct(onnx_nets, code_o.y_hat, code_o.z_hat, quality, width, height)
    cross_to_onnx, image_to = _cross_decode(onnx_nets, code_t, width, height, quality)
    cross_to_torch, image_ot = _cross_decode(torch_nets, code_o, width, height, quality)
    report: dict[str, Any] = {
        "size": [width, height],
        "quality": quality,
        "latents": _latent_report(code_t, code_o),
        "torch_stream_in_onnx": cross_to_onnx,
        "onnx_stream_in_torch": cross_to_torch,
        "psnr_torch": psnr(rgb, image_t),
        "psnr_onnx": psnr(rgb, image_o),
        "pixels_differing": int((image_t != image_o).any(axis=2).sum()),
        "max_pixel_diff": int(np.abs(image_t.astype(np.int16) - image_o.astype(np.int16)).max()),
    }
    failures = []
    latents = report["latents"]
    if not latents["z_equal"] or latents["y_symbols_differing"]:
        failures.append(
            f"quantised latents differ (z equal: {latents['z_equal']}, y symbols differing: "
            f"{latents['y_symbols_differing']})"
        )
    for key, image in (("torch_stream_in_onnx", image_to), ("onnx_stream_in_torch", image_ot)):
        if not report[key]["ok"]:
            failures.append(f"{key}: cross decode failed: {report[key]}")
        else:
            report[key]["psnr"] = psnr(rgb, image)
    gaps = [abs(report["psnr_onnx"] - report["psnr_torch"])]
    gaps += [abs(report[k]["psnr"] - report["psnr_torch"]) for k in ("torch_stream_in_onnx", "onnx_stream_in_torch") if "psnr" in report[k]]
    report["max_psnr_gap_db"] = max(gaps)
    if report["max_psnr_gap_db"] >= PSNR_TOLERANCE_DB:
        failures.append(f"PSNR differs by {report['max_psnr_gap_db']:.4f} dB (limit {PSNR_TOLERANCE_DB})")
    return report, failures


def _check_fp16(
    model_dir: Path,
    torch_nets: TorchNetworks,
    images: Sequence[str],
    size: int,
    qualities: Sequence[int],
    failures: list[str],
) -> dict[str, Any]:
    """PSNR of the float16 synthesis graph vs PyTorch's float32 g_s on the same latents. It changes
    only the reconstruction, never decodability, so the tolerance is looser."""
    from service.runtime import CodecRuntime

    half = CodecRuntime.load(
        model_dir, providers=["CPUExecutionProvider"], precision="fp16", warm_up=False
    ).networks
    report = {"tolerance_db": FP16_PSNR_TOLERANCE_DB, "images": {}}
    for name, (rgb, mask) in check_images(images, size).items():
        height, width = mask.shape
        for quality in qualities:
            code = codec.encode_tile(torch_nets, rgb, mask, quality)
            image_t = codec.reconstruct(torch_nets, code.y_hat, code.z_hat, quality, width, height)
            image_h = codec.reconstruct(half, code.y_hat, code.z_hat, quality, width, height)
            gap = abs(psnr(rgb, image_h) - psnr(rgb, image_t))
            report["images"][f"{name}@q{quality}"] = {"psnr_torch": psnr(rgb, image_t), "psnr_fp16": psnr(rgb, image_h), "gap_db": gap}
            if not gap < FP16_PSNR_TOLERANCE_DB:
                failures.append(f"{name} q{quality}: fp16 synthesis PSNR differs by {gap:.4f} dB (limit {FP16_PSNR_TOLERANCE_DB})")
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

    runtime = CodecRuntime.load(model_dir, providers=["CPUExecutionProvider"], warm_up=False)
    onnx_nets = runtime.networks
    torch_nets = TorchNetworks(model)
    if torch_nets.model_id != onnx_nets.model_id:
        raise ParityError(f"model id {torch_nets.model_id.hex()} != manifest's {onnx_nets.model_id.hex()}")
    if qualities is None:
        qualities = sorted({1, model.config.num_qualities})
    reports: dict[str, Any] = {"providers": runtime.providers, "tolerance_db": PSNR_TOLERANCE_DB, "images": {}}
    failures: list[str] = []
    for name, (rgb, mask) in check_images(images, size).items():
        for quality in qualities:
            report, failed = compare(torch_nets, onnx_nets, rgb, mask, quality)
            reports["images"][f"{name}@q{quality}"] = report
            failures += [f"{name} q{quality}: {f}" for f in failed]
            log.info(
                "parity %s q%d: %s, PSNR %.3f / %.3f dB", name, quality,
                "FAIL" if failed else "ok", report["psnr_torch"], report["psnr_onnx"],
            )
    if "synthesis_fp16" in runtime.manifest["graphs"]:
        reports["fp16_synthesis"] = _check_fp16(model_dir, torch_nets, images, size, qualities, failures)
    if failures:
        raise ParityError("ONNX export disagrees with PyTorch:\n  " + "\n  ".join(failures))
    return reports
