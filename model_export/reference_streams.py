"""Write a model directory's reference streams (screen_codec.reference_streams) into its manifest.

    python -m model_export.reference_streams MODEL_DIR [MODEL_DIR ...]

Every export calls :func:`add` once parity has passed; the command adds the streams to a model
directory exported before they existed. ONNX Runtime on the CPU provider encodes them, as a serving
replica would, from a real screenshot of the repository:

    tests/test_service_screens/python_docs_code.png (600x400, morph mask)
        ──encode q1 (one tile)──► reference_q1.scic
        ──encode q_max (tiles of 256)──► reference_q5.scic
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from screen_codec import reference_streams
from training.provenance import cpu_name

REPO = Path(__file__).resolve().parent.parent
SOURCE = Path("tests/test_service_screens/python_docs_code.png")  # relative to the repository
TILE_SIZE = 256  # the highest quality is coded in tiles: partial edge tiles, several tile streams
TEXT_MASK = "morph"  # deterministic; the mask only shapes the encoder's choices, never the decoding

log = logging.getLogger(__name__)


def source_image() -> np.ndarray:
    """The reference screenshot as HxWx3 uint8 RGB."""
    import cv2

    bgr = cv2.imread(str(REPO / SOURCE), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def add(model_dir: Path) -> dict[str, Any]:
    """Encode, write and record the reference streams of the model in ``model_dir``; returns the
    updated manifest. Refuses a directory that already has them (re-export to renew them)."""
    from screen_codec.detectors import text_mask
    from service.runtime import CodecRuntime, sha256_file

    from .export import write_manifest

    model_dir = Path(model_dir)
    runtime = CodecRuntime.load(
        model_dir, providers=["CPUExecutionProvider"], check_reference_streams=False
    )
    manifest = runtime.manifest
    if "reference_streams" in manifest:
        raise ValueError(f"{model_dir} already has reference streams; re-export the model to renew them")
    rgb = source_image()
    mask = text_mask(rgb, TEXT_MASK)
    nets = runtime.networks
    streams = []
    for quality, tile_size in ((1, 0), (len(runtime.qualities), TILE_SIZE)):
        data, entry = reference_streams.make(nets, rgb, mask, quality, tile_size)
        path = model_dir / entry["file"]
        path.write_bytes(data)
        manifest["files"][entry["file"]] = {"sha256": sha256_file(path), "bytes": len(data)}
        streams.append(entry)
        log.info("reference stream %s: %d bytes, %.3f dB", entry["file"], len(data), entry["psnr_db"])
    manifest["reference_streams"] = {
        "source": str(SOURCE),
        "source_pixels_sha256": hashlib.sha256(rgb.tobytes()).hexdigest(),
        "text_mask": TEXT_MASK,
        "encoded_on": cpu_name(),
        "streams": streams,
    }
    write_manifest(model_dir, manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model_export.reference_streams", description=__doc__.split("\n")[0]
    )
    parser.add_argument("model_dirs", type=Path, nargs="+", metavar="MODEL_DIR")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for model_dir in args.model_dirs:
        add(model_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
