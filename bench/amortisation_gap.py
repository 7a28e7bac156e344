"""The amortisation gap: how much better latents the fixed decoder could use than the encoder gives it.

The analysis g_a amortises an optimisation: one forward pass predicts the latents of any image.
With every decoder network fixed, one image's latents can instead be optimised directly (Campos et
al., "Content Adaptive Optimization for Neural Image Compression", CVPRW 2019; Yang, Bamler & Mandt,
"Improving Inference for Neural Image Compression", NeurIPS 2020). The hyper-latent z^ stays the
encoder's: the decoder needs only z^, not z = h_a(y). Two measurements per image and level:

    ceiling  y* = argmin_y |x - g_s(y, z^)|^2, unrounded. Against g_s(g_a(x), z^) unrounded (the limit
             of ever finer quantisation, bench/gain_extrapolation.py): is it the synthesis or the
             analysis that caps the top of the curve?
    rd       y* = argmin_y R(y | z^) + lambda 255^2 |x - g_s(y^, z^)|^2 with the training's proxy
             (the rate of y - mu with uniform noise, straight-through rounding for y^); every tenth
             iterate is scored with the true rounded loss and the best kept, so the result is never
             worse than the encoder's own latents. Bits (y and z) and PSNR of both.

Adam, cosine-decayed learning rate; rates are the eval-mode ideal code lengths (what the coder
pays, less rANS's <1 %), PSNR on the 8-bit reconstruction. Images are cropped at the top left to
``--crop`` (or to multiples of 64); text masks as bench/gain_extrapolation.py.

    python bench/amortisation_gap.py --checkpoint models/default/compact.pt --images data/manifest.json \
        --split test --crop 512 --qualities 1,5 --mode ceiling --mode rd --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from bench.rd import load_images  # noqa: E402
from screen_codec.detectors import text_mask  # noqa: E402
from screen_codec.losses import psnr  # noqa: E402
from screen_codec.models import ScreenContentCodec  # noqa: E402
from training.checkpoint import load_compact  # noqa: E402
from training.evaluate import screen_tensors  # noqa: E402

MODES = ("ceiling", "rd")
SCORE_EVERY = 10  # iterations between true-loss scorings in the rd mode


@dataclass
class Point:
    bpp: float  # nan for the ceiling, which is unrounded
    psnr: float


@dataclass
class Gap:
    image: str
    quality: int
    mode: str
    encoder: Point
    optimised: Point


def _psnr(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """PSNR of the 8-bit reconstruction, as training.evaluate scores it."""
    return float(psnr((x - x_hat.clamp(0, 1).mul(255).round().div(255)).pow(2).mean()))


class FixedDecoder:
    """One image at one quality level, with the decoder's side (z^, the hyper-synthesis moments)
    fixed: scores and optimises latents y_q against it."""

    def __init__(self, model: ScreenContentCodec, x: torch.Tensor, mask: torch.Tensor, quality: int) -> None:
        self.model, self.x = model, x
        self.quality = torch.tensor([quality])
        self.lmbda = model.config.lambdas[quality - 1]
        self.pixels = x.shape[2] * x.shape[3]
        with torch.no_grad():
            self.y_q, z_q = model.analyse(x, mask, self.quality)
            self.z_hat_q, z_likelihoods = model.z_bottleneck(z_q)
            self.z_bits = float(-torch.log2(z_likelihoods).sum())
            self.means, self.scales = model.hyper(self.z_hat_q, self.quality)

    def _coded(self, y_q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(y^_q, rate of y in bits per pixel) under the slices' current quantiser."""
        y_hat_q, likelihoods = self.model.slices(y_q, self.means, self.scales, self.model.entropy_gain(self.quality))
        return y_hat_q, -torch.log2(likelihoods).sum() / self.pixels

    @torch.no_grad()
    def score(self, y_q: torch.Tensor) -> Point:
        """Rounded: what the codec would code and decode."""
        self.model.slices.eval()
        y_hat_q, y_bpp = self._coded(y_q)
        x_hat = self.model.synthesise(y_hat_q, self.z_hat_q, self.quality)
        return Point(float(y_bpp) + self.z_bits / self.pixels, _psnr(self.x, x_hat))

    def loss(self, point: Point) -> float:
        return point.bpp + self.lmbda * 255**2 * 10 ** (-point.psnr / 10)

    @torch.no_grad()
    def unrounded_psnr(self, y_q: torch.Tensor) -> float:
        return _psnr(self.x, self.model.synthesise(y_q, self.z_hat_q, self.quality))

    def optimise(self, mode: str, iterations: int, lr: float) -> tuple[Point, Point]:
        """(the encoder's latents, the optimised ones), scored as ``mode`` says."""
        y = self.y_q.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([y], lr=lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, iterations)
        best_y, best = self.y_q, self.score(self.y_q)
        encoder = best if mode == "rd" else Point(math.nan, self.unrounded_psnr(self.y_q))
        for iteration in range(iterations):
            optimizer.zero_grad()
            if mode == "ceiling":
                loss = (self.x - self.model.synthesise(y, self.z_hat_q, self.quality)).pow(2).mean()
            else:
                self.model.slices.train()  # the rate of the noisy residual, the training's proxy
                y_hat_q, y_bpp = self._coded(y)
                x_hat = self.model.synthesise(y_hat_q, self.z_hat_q, self.quality)
                loss = y_bpp + self.lmbda * 255**2 * (self.x - x_hat).pow(2).mean()
            loss.backward()
            optimizer.step()
            schedule.step()
            if mode == "rd" and (iteration + 1) % SCORE_EVERY == 0:
                point = self.score(y.detach())
                if self.loss(point) < self.loss(best):
                    best_y, best = y.detach().clone(), point
        if mode == "ceiling":
            return encoder, Point(math.nan, self.unrounded_psnr(y.detach()))
        return encoder, self.score(best_y)


def measure(model: ScreenContentCodec, name: str, rgb: np.ndarray, mask: np.ndarray, qualities: Sequence[int],
            modes: Sequence[str], iterations: int, lr: float) -> list[Gap]:
    """Every (quality, mode) of one image (H x W x 3 uint8, cropped to multiples of 64)."""
    x, m = screen_tensors((rgb, mask), torch.device("cpu"))
    return [Gap(name, quality, mode, *FixedDecoder(model, x, m, quality).optimise(mode, iterations, lr))
            for quality in qualities for mode in modes]


def _markdown(gaps: Sequence[Gap]) -> str:
    lines = ["| image | q | mode | encoder bpp | encoder PSNR | optimised bpp | optimised PSNR | bits | PSNR |",
             "|---|---|---|---|---|---|---|---|---|"]
    for gap in gaps:
        e, o = gap.encoder, gap.optimised
        bits = "-" if gap.mode == "ceiling" else f"{100 * (o.bpp / e.bpp - 1):+.1f} %"
        lines.append(f"| {gap.image} | q{gap.quality} | {gap.mode} | {e.bpp:.4f} | {e.psnr:.2f} | {o.bpp:.4f} | "
                     f"{o.psnr:.2f} | {bits} | {o.psnr - e.psnr:+.2f} dB |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--images", nargs="+", required=True, help="as bench/rd.py --images")
    parser.add_argument("--split", default="test")
    parser.add_argument("--crop", type=int, default=0, help="top-left square crop (a multiple of 64); 0: whole")
    parser.add_argument("--qualities", default="1,5")
    parser.add_argument("--mode", action="append", choices=MODES, help="repeatable; default both")
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--detector", default="dbnet", help="text masks of images without ground truth")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # the rate proxy's noise

    model, metadata = load_compact(args.checkpoint)
    model.eval().requires_grad_(False)
    gaps: list[Gap] = []
    for image in load_images(args.images, args.split):
        mask = image.text_mask if image.text_mask is not None else text_mask(image.rgb, args.detector)
        side = args.crop or None
        for gap in measure(model, image.name, image.rgb[:side, :side], mask[:side, :side],
                           [int(q) for q in args.qualities.split(",")], args.mode or MODES, args.iterations, args.lr):
            gaps.append(gap)
            print(json.dumps(asdict(gap)), flush=True)
    print(f"{args.checkpoint} (step {metadata.get('step', '?')}), {args.iterations} iterations at lr {args.lr}")
    print(_markdown(gaps))
    if args.json:
        args.json.write_text(json.dumps({"checkpoint": str(args.checkpoint), "step": metadata.get("step"),
                                         "iterations": args.iterations, "lr": args.lr,
                                         "gaps": [asdict(gap) for gap in gaps]}, indent=1))


if __name__ == "__main__":
    main()
