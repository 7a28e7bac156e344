"""DBNet text detector: PP-OCRv6 small detection model from the `rapidocr` wheel, ONNX Runtime.

Serving-safe: imports numpy, OpenCV and onnxruntime only (never torch). The model file ships inside
the rapidocr 3.10.0 wheel (Apache-2.0; PP-OCRv6_det_small.onnx, 9.9 MB, sha256
090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f). Only the file is used, so install
the wheel with `--no-deps`: its dependencies would replace the project's onnxruntime-gpu and
opencv-headless (FINDINGS section 7).

Measured (tests/pages.py, 2 shared CPU cores, 2 ORT threads): word recall 1.00 on 24 pages at
512x384 / 1280x720 / 1920x1080; 0.06-0.09 s / 0.25-0.27 s / 0.67-1.0 s per frame on a quiet host
(up to 8x more under load). Details: docs/DETECTORS.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from . import DetectorUnavailableError, check_rgb, packaged_model_file

MODEL_FILE = "PP-OCRv6_det_small.onnx"
_INSTALL = "pip install --no-deps rapidocr==3.10.0"


def default_model_path() -> Path:
    """Path of the DBNet ONNX file inside the installed rapidocr package (no download)."""
    return packaged_model_file("rapidocr", MODEL_FILE, "dbnet", _INSTALL)


def contrast_gate(rgb: np.ndarray, min_contrast: int, radius: int) -> np.ndarray:
    """1 within `radius` px of a pixel whose 3x3 max-min range, in any channel, is >= min_contrast."""
    spread = cv2.morphologyEx(rgb, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).max(axis=2)
    return cv2.dilate((spread >= min_contrast).astype(np.uint8), np.ones((2 * radius + 1,) * 2, np.uint8))


def drop_blobs(mask: np.ndarray, max_line_height: int) -> np.ndarray:
    """Remove connected components whose bounding box is thicker than max_line_height in both directions."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = np.minimum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) <= max_line_height
    keep[0] = False  # background label
    return keep.astype(np.uint8)[labels]


class DBNetDetector:
    """Differentiable-binarization text detector (Liao et al., "Real-time Scene Text Detection with
    Differentiable Binarization", AAAI 2020), PaddleOCR PP-OCRv6 small weights, run with ONNX Runtime.

    Data flow: RGB (H, W) -> BGR, (x/255 - 0.5)/0.5, resized to multiples of 32 (long side <= max_side)
    -> DBNet -> probability map resized to (H, W) -> prob > threshold -> drop blobs thicker than
    max_line_height -> keep within gate_radius px of local contrast >= min_contrast -> dilate(k x k) -> M.

    The two filters exist because DBNet hallucinates text where nothing has structure: raw prob > 0.3
    covered 12% of a flat white 720p frame, 61% of a flat blue one, up to 61% of smooth gradients, and
    33-58% of a frame-filling photo texture (one blob ~0.7x the frame; also a 96x149 blob on a small
    photo inside a page). Real text lines gave components at most 40 px thick, and text always has
    strong local contrast; with both filters recall stayed 1.00 on every test page.

    providers: ONNX Runtime execution providers in priority order (default CPU only).
    intra_op_threads: ORT intra-op thread count (None: ORT's default, one per core).
    max_side: the long side is scaled down to at most this before inference (time and memory bound).
    max_line_height: thickest text-line component kept, in image pixels (text up to ~110 px tall).
    min_contrast: 0 disables the contrast gate.
    """

    name = "dbnet"

    def __init__(
        self,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        intra_op_threads: int | None = None,
        max_side: int = 1920,
        threshold: float = 0.3,
        dilate: int = 7,
        max_line_height: int = 80,
        min_contrast: int = 24,
        gate_radius: int = 6,
        model_path: str | Path | None = None,
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise DetectorUnavailableError(
                "the 'dbnet' detector needs ONNX Runtime: pip install onnxruntime-gpu==1.31.1 (or onnxruntime)"
            ) from e
        if max_side < 32:
            raise ValueError(f"max_side must be >= 32, got {max_side}")
        self.max_side, self.threshold, self.max_line_height = max_side, threshold, max_line_height
        self.min_contrast, self.gate_radius = min_contrast, gate_radius
        self.kernel = np.ones((dilate, dilate), np.uint8)
        opts = ort.SessionOptions()
        if intra_op_threads is not None:
            opts.intra_op_num_threads = intra_op_threads
        path = Path(model_path) if model_path is not None else default_model_path()
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=list(providers))
        self.input_name = self.session.get_inputs()[0].name

    def probability(self, rgb: np.ndarray) -> np.ndarray:
        """Raw DBNet text probability map (H, W) float32 in [0, 1], before any filtering."""
        h, w = check_rgb(rgb).shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        ih, iw = (max(32, int(round(s * scale / 32)) * 32) for s in (h, w))
        bgr = cv2.resize(np.ascontiguousarray(rgb[..., ::-1]), (iw, ih), interpolation=cv2.INTER_LINEAR)
        x = (bgr.astype(np.float32) * (2.0 / 255.0) - 1.0).transpose(2, 0, 1)[None]
        prob = self.session.run(None, {self.input_name: x})[0][0, 0]
        return cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        mask = drop_blobs((self.probability(rgb) > self.threshold).astype(np.uint8), self.max_line_height)
        if self.min_contrast > 0:
            mask &= contrast_gate(rgb, self.min_contrast, self.gate_radius)
        return cv2.dilate(mask, self.kernel)
