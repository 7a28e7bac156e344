"""Where one image's bits go at each quality level: per section, per y channel, and the elements the
coder pays dearly for (BENCHMARKS, "Phase 67": the q1 rate spike).

    python bench/rate_spikes.py data_full/harvest/postgresql-doc-15/00000.webp \\
        --checkpoint models/default/compact.pt --qualities 1 2 --rounding-threshold-bits inf

    image ──detector mask──► codec.network_input ──analyse (g_a, h_a)──► y, z
        ──latent_coder.quantise_latents (the encoder's symbols and scale indexes)──►
        ──rans.symbol_bits (each symbol's cost in the stream)──► per slice, channel and element
        ──latent_coder.code_latents──► the real sections' bytes beside the priced bits

The image is coded as one tile (the service's default), with the service's rate-aware rounding unless
--rounding-threshold-bits says otherwise (inf: nearest integers, where the spikes show). "Costly" elements are those over --costly
bits: residuals rounded to a symbol their predicted scale makes improbable (or escapes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.rd import load_variant  # noqa: E402
from screen_codec.codec import CodecNetworks, network_input  # noqa: E402
from screen_codec.detectors import text_mask  # noqa: E402
from screen_codec.entropy import rans  # noqa: E402
from screen_codec.entropy.latent_coder import RATE_AWARE_ROUNDING_BITS, code_latents, quantise_latents  # noqa: E402
from training.data import store  # noqa: E402


def report_quality(
    nets: CodecNetworks,
    rgb: np.ndarray,
    mask: np.ndarray,
    quality: int,
    rounding_threshold_bits: float,
    costly: float,
    top: int,
) -> str:
    """One quality level's breakdown as text."""
    x, m = network_input(rgb, mask)
    y, z = nets.analyse(x, m, quality)
    latents = quantise_latents(y, z, nets.entropy, nets.tables, quality, rounding_threshold_bits)
    sections = code_latents(latents, nets.tables)
    pixels = rgb.shape[0] * rgb.shape[1]
    coded = len(sections.z) + sum(len(b) for b in sections.y)
    lines = [
        f"q{quality}: {8 * coded / pixels:.4f} bpp; z {len(sections.z)} B; "
        f"y slices {[len(b) for b in sections.y]} B"
    ]
    for k, (symbols, indexes) in enumerate(zip(latents.y_symbols, latents.y_indexes)):
        bits = rans.symbol_bits(symbols, indexes, nets.tables.gaussian_table)[0]  # (C, H, W)
        per_channel = bits.sum(axis=(1, 2))
        dear = bits > costly
        worst = np.argsort(per_channel)[::-1][:top]
        lines.append(
            f"  slice {k}: {bits.sum() / 8:.0f} B priced; {int(dear.sum())} elements over {costly:g} bits "
            f"carry {bits[dear].sum() / 8:.0f} B; costliest channels "
            + ", ".join(f"{int(c)}: {per_channel[c] / 8:.0f} B" for c in worst)
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", type=Path)
    parser.add_argument("--checkpoint", default="models/default/compact.pt")
    parser.add_argument("--detector", default="dbnet")
    parser.add_argument("--qualities", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--rounding-threshold-bits", type=float, default=RATE_AWARE_ROUNDING_BITS,
                        help="the encoder's rate-aware rounding (inf: nearest integers)")
    parser.add_argument("--costly", type=float, default=8.0, help="bits above which an element is costly")
    parser.add_argument("--top", type=int, default=3, help="costliest channels listed per slice")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rgb = store.load_rgb(args.image)
    mask = text_mask(rgb, args.detector)
    variant = load_variant(args.checkpoint, args.detector, seed=0, rounding_threshold_bits=args.rounding_threshold_bits)
    print(f"{args.image} ({rgb.shape[1]}x{rgb.shape[0]}, text {mask.mean():.1%}) with {variant.label}")
    for quality in args.qualities:
        print(report_quality(
            variant.nets, rgb, mask, quality, variant.rounding_threshold_bits, args.costly, args.top
        ))


if __name__ == "__main__":
    main()
