"""A fast A/B of two checkpoints by eval-mode likelihoods, image by image.

bench/score_candidate.sh is the gate a new default passes: the real codec (integer entropy path,
rANS, rate-aware rounding) on every held-out set, ~25 minutes per model on the 2-core host. This is
the screening step before it: each image (text mask from the service's detector) through both
models' evaluation pass at every quality level, rates the ideal code lengths of the rounded latents
(the coded rate less rANS's <1 %, docs/BENCHMARKS.md), PSNR on the 8-bit reconstruction, and the
BD-rate of B against A per image (negative: B needs fewer bits at equal PSNR). Lines of JSON per
image, then the mean, median and count of images B improves.

    python bench/likelihood_ab.py --a models/default/compact.pt --b runs/compact_cpu68/compact.pt \
        --images bench/heldout16.txt data/manifest.json --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Sequence

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from bench.bd_rate import bd_rate  # noqa: E402
from bench.rd import load_images  # noqa: E402
from screen_codec.detectors import text_mask  # noqa: E402
from training.checkpoint import load_compact  # noqa: E402
from training.evaluate import rate_distortion  # noqa: E402


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, required=True, help="the anchor checkpoint")
    parser.add_argument("--b", type=Path, required=True, help="the candidate checkpoint")
    parser.add_argument("--images", nargs="+", required=True, help="as bench/rd.py --images")
    parser.add_argument("--split", default="test")
    parser.add_argument("--detector", default="dbnet")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    models = [load_compact(path)[0] for path in (args.a, args.b)]
    rows = []
    for image in load_images(args.images, args.split):
        screens = [(image.rgb, text_mask(image.rgb, args.detector))]
        (bpp_a, psnr_a), (bpp_b, psnr_b) = (
            ([row["bpp"] for row in curve], [row["psnr"] for row in curve])
            for curve in (rate_distortion(model, screens, torch.device("cpu")) for model in models)
        )
        row = {"image": image.name, "a": [bpp_a, psnr_a], "b": [bpp_b, psnr_b],
               "bd_rate_percent": bd_rate(bpp_a, psnr_a, bpp_b, psnr_b)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    bds = [row["bd_rate_percent"] for row in rows]
    print(f"{args.b} against {args.a}, {len(bds)} images: BD-rate mean {statistics.mean(bds):+.2f} %, "
          f"median {statistics.median(bds):+.2f} %, {sum(bd < 0 for bd in bds)} of {len(bds)} better")
    if args.json:
        args.json.write_text(json.dumps({"a": str(args.a), "b": str(args.b), "images": rows}, indent=1))


if __name__ == "__main__":
    main()
