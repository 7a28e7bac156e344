"""Validation rate-distortion: a fixed set of screens, every quality level, rate from likelihoods.

    data dir val split (or fixed-seed synthetic screens) ──► (RGB uint8, text mask)
        ──crop to multiples of 64──► model.eval() forward per quality
        ──► bpp = -sum log2 p(y^, z^) / pixels,  PSNR of the 8-bit-rounded reconstruction
        ──► one row per quality (means over the screens)

Eval-mode forward quantises by rounding (z around its medians), as the codec does, so the bpp is
the ideal code length of what the codec would code (rANS adds its small overhead); no bitstream
is written.

CLI: ``python -m training.evaluate --checkpoint runs/compact_cpu/compact.pt [--data data]
[--out val.csv]``
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from screen_codec.losses import psnr
from screen_codec.models import ScreenContentCodec
from training.data.shard import open_root
from training.data.store import MANIFEST, load_mask, load_rgb, parse_manifest
from training.data.synthetic import KINDS, SYNTHETIC_VAL_SEED0, render_screen

VAL_FIELDS = ("step", "quality", "lambda", "bpp", "psnr", "text_psnr")
Screen = tuple[np.ndarray, np.ndarray]  # HxWx3 uint8 RGB, HxW {0,1} text mask


def synthetic_validation_screens(count: int, width: int, height: int) -> list[Screen]:
    """``count`` fixed synthetic screens, cycling through every layout kind."""
    screens = []
    for i in range(count):
        screen = render_screen(SYNTHETIC_VAL_SEED0 + i, width, height, KINDS[i % len(KINDS)])
        screens.append((screen.rgb, screen.text_mask))
    return screens


def stored_validation_screens(root: Path, count: int, width: int, height: int) -> list[Screen]:
    """The first ``count`` val-split images of a data dir or shard tar (manifest order, kinds
    interleaved), centre-cropped to at most ``width`` x ``height``; images without a mask (natural
    crops) get an empty one."""
    files = open_root(root)
    items = [item for item in parse_manifest(files.read(MANIFEST)) if item.split == "val"]
    by_kind: dict[str, list] = {}
    for item in sorted(items, key=lambda item: item.image):
        by_kind.setdefault(item.kind, []).append(item)
    interleaved = [item for group in itertools.zip_longest(*by_kind.values()) for item in group if item]
    screens = []
    for item in interleaved[:count]:
        rgb = load_rgb(io.BytesIO(files.read(item.image)))
        mask_file = item.gt_mask or item.det_mask
        mask = (
            load_mask(io.BytesIO(files.read(mask_file)))
            if mask_file
            else np.zeros(rgb.shape[:2], dtype=np.uint8)
        )
        top = max(0, (rgb.shape[0] - height) // 2)
        left = max(0, (rgb.shape[1] - width) // 2)
        window = (slice(top, top + height), slice(left, left + width))
        screens.append((rgb[window], mask[window]))
    return screens


def validation_screens(root: str | Path | None, count: int, width: int, height: int) -> list[Screen]:
    """From the val split of the data dir / shard when there is one, else fixed synthetic screens."""
    if root is not None and Path(root).exists():
        screens = stored_validation_screens(Path(root), count, width, height)
        if screens:
            return screens
    return synthetic_validation_screens(count, width, height)


def screen_tensors(screen: Screen, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, mask) batches of one (rgb, mask) screen, cropped to multiples of 64."""
    rgb, mask = screen
    height, width = (s // 64 * 64 for s in mask.shape)
    if height == 0 or width == 0:
        raise ValueError(f"validation screens need sides >= 64, got {mask.shape}")
    x = torch.from_numpy(np.array(rgb[:height, :width])).permute(2, 0, 1).float().div(255.0)
    m = torch.from_numpy(np.array(mask[:height, :width])).float()
    return x[None].to(device), m[None, None].to(device)


@torch.no_grad()
def rate_distortion(
    model: ScreenContentCodec, screens: Sequence[Screen], device: torch.device
) -> list[dict[str, float]]:
    """Per quality level: lambda, mean bpp, mean PSNR and mean text PSNR (dB) over ``screens``."""
    was_training = model.training
    model.eval()
    inputs = [screen_tensors(screen, device) for screen in screens]
    rows = []
    for quality in range(1, model.config.num_qualities + 1):
        bpps, psnrs, text_psnrs = [], [], []
        for x, mask in inputs:
            out = model(x, mask, torch.tensor([quality], device=device))
            pixels = x.shape[2] * x.shape[3]
            bits = sum(-torch.log2(lik.float()).sum() for lik in out["likelihoods"].values())
            x_hat = out["x_hat"].float().clamp(0, 1).mul(255).round().div(255)
            error = (x - x_hat).pow(2)
            bpps.append(float(bits) / pixels)
            psnrs.append(float(psnr(error.mean())))
            if mask.sum() > 0:
                text_mse = (error * mask).sum() / (mask.sum() * 3)
                text_psnrs.append(float(psnr(text_mse)))
        rows.append(
            {
                "quality": quality,
                "lambda": model.config.lambdas[quality - 1],
                "bpp": float(np.mean(bpps)),
                "psnr": float(np.mean(psnrs)),
                "text_psnr": float(np.mean(text_psnrs)) if text_psnrs else math.nan,
            }
        )
    model.train(was_training)
    return rows


@torch.no_grad()
def unquantised_psnr(model: ScreenContentCodec, screens: Sequence[Screen], device: torch.device,
                     quality: int) -> float:
    """Mean PSNR (dB) of x^ = g_s(y, z) on the analysis's own latents, unrounded: the limit of ever
    finer quantisation, so no quality level, trained or extrapolated, reconstructs better than this."""
    was_training = model.training
    model.eval()
    level = torch.tensor([quality], device=device)
    psnrs = []
    for x, mask in (screen_tensors(screen, device) for screen in screens):
        x_hat = model.synthesise(*model.analyse(x, mask, level), level).float().clamp(0, 1)
        psnrs.append(float(psnr((x - x_hat.mul(255).round().div(255)).pow(2).mean())))
    model.train(was_training)
    return float(np.mean(psnrs))


def append_csv(path: Path, fields: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """Append rows to a CSV, writing the header when the file is new."""
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerows(rows)


def drop_rows_after(path: Path, step: int) -> None:
    """Keep a log's rows up to ``step``: a run resumed from a checkpoint at ``step`` logs the later
    steps again, and a plot of the CSV should see each step once."""
    if not path.exists():
        return
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames or [], [r for r in reader if int(r["step"]) <= step]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def append_rows(path: Path, step: int, rows: Sequence[dict[str, float]]) -> None:
    """Append RD rows (``rate_distortion``'s) of ``step`` to a val CSV."""
    append_csv(path, VAL_FIELDS, ({"step": step, **row} for row in rows))


def main(argv: Sequence[str] | None = None) -> None:
    from training.checkpoint import load_compact

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="compact checkpoint")
    parser.add_argument("--data", type=Path, help="data dir or shard .tar (its val split)")
    parser.add_argument("--screens", type=int, default=8)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--out", type=Path, help="CSV to append the rows to")
    args = parser.parse_args(argv)

    model, metadata = load_compact(args.checkpoint)
    screens = validation_screens(args.data, args.screens, args.width, args.height)
    rows = rate_distortion(model, screens, torch.device("cpu"))
    for row in rows:
        print(
            f"q{row['quality']} lambda={row['lambda']:.4f} bpp={row['bpp']:.4f} "
            f"PSNR={row['psnr']:.2f} text PSNR={row['text_psnr']:.2f}"
        )
    if args.out:
        append_rows(args.out, int(metadata.get("step", 0)), rows)


if __name__ == "__main__":
    main()
