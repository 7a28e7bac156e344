"""Seconds per training step in fp32 and under bf16 autocast, alternated in one process.

    python bench/train_step_speed.py [--model compact] [--batch 8] [--crop 128] [--threads 1]
        [--steps 4] [--rounds 2]

One step is what ``training.train.Trainer.train_step`` does on a batch: the forward pass (under
autocast when bf16), the RD loss in fp32, one backward, Adam. Random images, a random text mask and
random quality levels: the speed does not depend on content. The two precisions alternate for
``--rounds`` rounds so that a busy host slows both alike; the first step of each round is the
warm-up and is not counted. On CPUs with AMX / AVX512-BF16, oneDNN runs the bf16 convolutions there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screen_codec.losses import RateDistortionLoss  # noqa: E402
from screen_codec.models import build_model  # noqa: E402


def step_times(model: torch.nn.Module, precision: str, batch: int, crop: int, steps: int) -> list[float]:
    """Wall seconds of ``steps`` training steps after one warm-up step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
    criterion = RateDistortionLoss()
    x = torch.rand(batch, 3, crop, crop)
    mask = (torch.rand(batch, 1, crop, crop) > 0.8).float()
    quality = torch.randint(1, model.config.num_qualities + 1, (batch,))
    lmbda = torch.tensor(model.config.lambdas)[quality - 1]
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        with autocast:
            out = model(x, mask, quality)
        out["x_hat"] = out["x_hat"].float()
        loss = criterion(out, x, mask, lmbda)["loss"] + model.auxiliary_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times[1:]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="compact")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(args.model)
    measured: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(args.rounds):
        for precision in measured:
            measured[precision] += step_times(model, precision, args.batch, args.crop, args.steps)
    print(f"{args.model}, batch {args.batch} x {args.crop}x{args.crop}, {args.threads} thread(s)")
    for precision, times in measured.items():
        print(f"  {precision}: median {statistics.median(times):.3f} s/step (min {min(times):.3f})")
    ratio = statistics.median(measured["fp32"]) / statistics.median(measured["bf16"])
    print(f"  bf16 speed-up: x{ratio:.2f}")


if __name__ == "__main__":
    main()
