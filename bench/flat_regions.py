"""Where a screenshot's bits go: flat regions against the rest, and what a flat image costs.

    python bench/flat_regions.py --checkpoint models/default/compact.pt [--checkpoint runs/X ...]
        [--images data/manifest.json] [--split test] [--detector dbnet] [--markdown out.md]

A classical codec codes a flat region in next to nothing. A learned codec pays there at every latent
position for each channel whose predicted mean misses by more than half a step at a small scale. Per
checkpoint and quality, from the model's likelihoods of the rounded latents (the rate the rANS coder
pays, within ~1 %: tests/test_codec.py -k rate_estimate):
  constant images   bpp (y + z) of 256x256 images of one grey level (0, 128, 255)
  screenshots       the share of the y bits spent on flat 16x16 blocks (one latent position each;
                    a block is flat when each of its pixels equals its upper and left neighbours),
                    y bits per flat and per other block, and the MSE of the flat blocks' pixels
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.rd import distinct_labels, load_images, load_variant  # noqa: E402
from screen_codec import codec  # noqa: E402
from screen_codec.detectors import text_mask  # noqa: E402
from screen_codec.models import ScreenContentCodec  # noqa: E402

BLOCK = 16  # pixels per latent position
CONSTANT_LEVELS = (0, 128, 255)
CONSTANT_SIZE = 256


@dataclass
class ImageBits:
    flat_bits: float
    other_bits: float
    flat_blocks: int
    other_blocks: int
    flat_squared_error: float


def flat_blocks(rgb: np.ndarray) -> np.ndarray:
    """(H/16, W/16) bool: blocks inside the image whose pixels all equal their upper and left
    neighbours (the image's first row and column count as equal to themselves)."""
    pixels = rgb.astype(np.int16)
    step_down = np.abs(np.diff(pixels, axis=0, prepend=pixels[:1])).sum(-1)
    step_right = np.abs(np.diff(pixels, axis=1, prepend=pixels[:, :1])).sum(-1)
    flat = (step_down + step_right) == 0
    rows, cols = flat.shape[0] // BLOCK, flat.shape[1] // BLOCK
    return flat[: rows * BLOCK, : cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK).all(axis=(1, 3))


@torch.no_grad()
def rate_map(model: ScreenContentCodec, rgb: np.ndarray, mask: np.ndarray, quality: int):
    """(y bits per latent position (h, w), z bits, reconstruction HxWx3 float in 0..255)."""
    x, m = codec.network_input(rgb, mask)
    out = model(torch.from_numpy(x), torch.from_numpy(m), torch.tensor([quality]))
    y_bits = (-torch.log2(out["likelihoods"]["y"])).sum(dim=1)[0].numpy()
    z_bits = float((-torch.log2(out["likelihoods"]["z"])).sum())
    height, width = mask.shape
    x_hat = out["x_hat"].clamp(0, 1)[0, :, :height, :width].permute(1, 2, 0).numpy() * 255
    return y_bits, z_bits, np.round(x_hat)


def image_bits(model: ScreenContentCodec, rgb: np.ndarray, mask: np.ndarray, quality: int) -> ImageBits:
    y_bits, _, x_hat = rate_map(model, rgb, mask, quality)
    flat = flat_blocks(rgb)
    y_bits = y_bits[: flat.shape[0], : flat.shape[1]]
    pixels = np.kron(flat, np.ones((BLOCK, BLOCK), bool))
    crop = (slice(0, pixels.shape[0]), slice(0, pixels.shape[1]))
    error = (x_hat[crop] - rgb[crop].astype(np.float64))[pixels]
    return ImageBits(
        float(y_bits[flat].sum()), float(y_bits[~flat].sum()), int(flat.sum()), int((~flat).sum()),
        float((error**2).sum()),
    )


def constant_bpp(model: ScreenContentCodec, level: int, quality: int) -> float:
    rgb = np.full((CONSTANT_SIZE, CONSTANT_SIZE, 3), level, np.uint8)
    y_bits, z_bits, _ = rate_map(model, rgb, np.zeros(rgb.shape[:2], np.uint8), quality)
    return (float(y_bits.sum()) + z_bits) / CONSTANT_SIZE**2


def report(checkpoints: list[str], images: list, detector: str) -> list[str]:
    header = (
        "| checkpoint | quality | "
        + " | ".join(f"bpp, constant {level}" for level in CONSTANT_LEVELS)
        + " | flat blocks' share of y bits | y bits per flat block | per other block | MSE on flat blocks |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    masks = [text_mask(image.rgb, detector) for image in images]
    for variant in distinct_labels([load_variant(checkpoint, detector, seed=0) for checkpoint in checkpoints]):
        model, label = variant.nets.model.eval(), variant.label.rsplit("/", 1)[0]
        for quality in range(1, model.config.num_qualities + 1):
            constants = [constant_bpp(model, level, quality) for level in CONSTANT_LEVELS]
            parts = [image_bits(model, image.rgb, mask, quality) for image, mask in zip(images, masks)]
            flat_bits, other_bits = sum(p.flat_bits for p in parts), sum(p.other_bits for p in parts)
            flat_blocks_count = sum(p.flat_blocks for p in parts)
            flat_mse = sum(p.flat_squared_error for p in parts) / max(1, flat_blocks_count * BLOCK**2 * 3)
            lines.append(
                f"| {label} | {quality} | "
                + " | ".join(f"{bpp:.4f}" for bpp in constants)
                + f" | {flat_bits / (flat_bits + other_bits):.1%} | {flat_bits / max(1, flat_blocks_count):.1f}"
                f" | {other_bits / max(1, sum(p.other_blocks for p in parts)):.1f} | {flat_mse:.2f} |"
            )
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", action="append", required=True, help="as bench/rd.py: compact checkpoint, run dir or untrained:<config>")
    parser.add_argument("--images", nargs="+", default=["data/manifest.json"])
    parser.add_argument("--split", default="test")
    parser.add_argument("--detector", default="dbnet")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--markdown", type=Path, help="write the table here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = load_images(args.images, args.split)
    lines = report(args.checkpoint, images, args.detector)
    if args.markdown:
        args.markdown.write_text(
            f"{len(images)} images ({', '.join(i.name for i in images)}), detector {args.detector}\n\n"
            + "\n".join(lines) + "\n"
        )


if __name__ == "__main__":
    main()
