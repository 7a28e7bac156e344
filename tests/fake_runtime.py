"""A stand-in for service.runtime.CodecRuntime with the same interface, for the service tests.

Lossy in a simple, predictable way: pixels are quantised with a step that shrinks as quality rises
(so PSNR rises with quality), then PNG-compressed into the single y section of a real format-v1
bitstream (screen_codec.bitstream), so every bad-stream test meets the real parser and errors.
Knobs for the admission and drain tests: `seconds_per_megapixel` (each encode sleeps in proportion to
the frame size, so warm-up frames stay fast), `encode_calls` (encodes started), `last_text_mask`.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from screen_codec import bitstream
from service.runtime import DecodeResult, EncodeResult, QualityLevel

MODEL_ID = b"fake\x00\x00\x00\x01"
_STEPS = {1: 48, 2: 24, 3: 12, 4: 6, 5: 2}  # quantisation step per quality level


class FakeRuntime:
    def __init__(self, name: str = "fake", seconds_per_megapixel: float = 0.0) -> None:
        self.name = name
        self.model_id = MODEL_ID.hex()
        self.providers = ["CPUExecutionProvider"]
        self.qualities = [
            QualityLevel(q, lmbda=0.0018 * 2 ** (q - 1), typical_bpp=None if q == 3 else 0.1 * q) for q in _STEPS
        ]
        self.default_quality = 3
        self.detectors = ("morph", "none")
        self.seconds_per_megapixel = seconds_per_megapixel
        self.encode_calls = 0
        self.last_text_mask: str | np.ndarray | None = None
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls, model_dir: str | Path, providers: list[str] | None = None, intra_op_threads: int = 0,
        **options: object,
    ) -> "FakeRuntime":
        """Settings from model_dir/fake_runtime.json if present: {"name": ..., "seconds_per_megapixel": ...}."""
        settings_file = Path(model_dir) / "fake_runtime.json"
        settings = json.loads(settings_file.read_text()) if settings_file.exists() else {}
        return cls(**settings)

    def encode(self, rgb: np.ndarray, quality: int, text_mask: str | np.ndarray | None = None) -> EncodeResult:
        with self._lock:
            self.encode_calls += 1
        if quality not in _STEPS:
            raise ValueError(f"quality {quality} is not one of {sorted(_STEPS)}")
        if isinstance(text_mask, str) and text_mask not in self.detectors:
            raise ValueError(f"unknown detector {text_mask!r}")
        if isinstance(text_mask, np.ndarray) and text_mask.shape != rgb.shape[:2]:
            raise ValueError(f"text mask shape {text_mask.shape} != image shape {rgb.shape[:2]}")
        self.last_text_mask = text_mask
        start = time.perf_counter()
        height, width = rgb.shape[:2]
        time.sleep(self.seconds_per_megapixel * width * height / 1e6)
        indices = (rgb.astype(np.int32) // _STEPS[quality]).astype(np.uint8)
        ok, png = cv2.imencode(".png", indices, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        assert ok
        stream = bitstream.pack(
            bitstream.Bitstream(
                quality=quality,
                model_id=MODEL_ID,
                width=width,
                height=height,
                tile_size=0,
                tiles=(bitstream.TileSections(z=b"", y=(png.tobytes(),)),),
            )
        )
        ms = (time.perf_counter() - start) * 1e3
        timings = {"detect": 0.0, "prior": 0.0, "analysis": 0.0, "hyper": 0.0, "entropy": ms}
        return EncodeResult(stream, width, height, len(stream) * 8 / (width * height), timings)

    def decode(self, data: bytes) -> DecodeResult:
        start = time.perf_counter()
        stream = bitstream.unpack(data, expected_model_id=MODEL_ID)
        step = _STEPS.get(stream.quality)
        indices = cv2.imdecode(np.frombuffer(stream.tiles[0].y[0], np.uint8), cv2.IMREAD_UNCHANGED)
        if step is None or indices is None or indices.shape[:2] != (stream.height, stream.width):
            raise bitstream.CorruptBitstreamError("payload does not decode to the declared image")
        # Reconstruct at the centre of each quantisation bin.
        rgb = np.clip(indices.astype(np.int32) * step + step // 2, 0, 255).astype(np.uint8)
        ms = (time.perf_counter() - start) * 1e3
        return DecodeResult(rgb, {"entropy": ms, "hyper": 0.0, "synthesis": 0.0})
