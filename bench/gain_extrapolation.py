"""How far the trained quality levels reach: gain units extrapolated beyond q1 and q5.

The variable-rate model (Cui et al. 2021, screen_codec.models.screen_content.QualityGains) scales the
latents by a learned per-quality gain; log-gains continued linearly past the ends of the table,

    log g_(Q+k) = log g_Q + k (log g_Q - log g_(Q-1)),   log g_(1-k) = log g_1 - k (log g_2 - log g_1),

quantise more finely (or coarsely) than any trained level. If the curve keeps rising there, more
quality levels would widen the bpp span; if PSNR stalls, the transforms, not the quantiser, set the
ceiling, which the last row measures: the top level's latents decoded unrounded (the limit of ever
finer quantisation). Rates are the ideal code lengths of eval-mode likelihoods (what the codec would
code, less rANS's <1 % overhead); images are cropped to multiples of 64 and the encoder gets the
ground-truth text mask, or where an image has none the detector's (``--detector``, as the service).

    python bench/gain_extrapolation.py --checkpoint models/default/compact.pt \
        --images data/manifest.json --split test [--below 2] [--above 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Sequence

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from bench.rd import load_images  # noqa: E402
from screen_codec.detectors import text_mask  # noqa: E402
from training.checkpoint import extrapolate_gains, load_compact  # noqa: E402
from training.evaluate import rate_distortion, unquantised_psnr  # noqa: E402

def extend_gains(model: torch.nn.Module, below: int, above: int) -> None:
    """Adds ``below`` levels under q1 and ``above`` over the top one, to the gains and (geometrically)
    to the configured lambdas, so the model serves them as quality indexes."""
    gains = model.gains
    for name, table in list(gains.named_parameters()):
        setattr(gains, name, torch.nn.Parameter(extrapolate_gains(table.data, below, above)))
    lambdas = model.config.lambdas
    low_lambdas = [lambdas[0] * (lambdas[0] / lambdas[1]) ** k for k in range(below, 0, -1)]
    high_lambdas = [lambdas[-1] * (lambdas[-1] / lambdas[-2]) ** k for k in range(1, above + 1)]
    model.config = dataclasses.replace(model.config, lambdas=(*low_lambdas, *lambdas, *high_lambdas))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--images", nargs="+", required=True, help="as bench/rd.py --images")
    parser.add_argument("--split", default="test")
    parser.add_argument("--below", type=int, default=2, help="levels added under q1")
    parser.add_argument("--above", type=int, default=3, help="levels added over the top level")
    parser.add_argument("--detector", default="dbnet", help="text masks of images without ground truth")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    model, metadata = load_compact(args.checkpoint)
    trained = model.config.num_qualities
    extend_gains(model, args.below, args.above)
    screens = [
        (image.rgb, image.text_mask if image.text_mask is not None else text_mask(image.rgb, args.detector))
        for image in load_images(args.images, args.split)
    ]
    rows = rate_distortion(model, screens, torch.device("cpu"))
    print(f"{args.checkpoint} (step {metadata.get('step', '?')}), {len(screens)} images; q1..q{trained} trained")
    print("| level | bpp | PSNR-RGB (dB) |\n|---|---|---|")
    for row in rows:
        print(f"| q{row['quality'] - args.below} | {row['bpp']:.3f} | {row['psnr']:.2f} |")
    print(f"| q{trained} unquantised | - | {unquantised_psnr(model, screens, torch.device('cpu'), trained + args.below):.2f} |")


if __name__ == "__main__":
    main()
