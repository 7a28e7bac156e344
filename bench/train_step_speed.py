"""Seconds per training step of the chosen variants (fp32, bf16 autocast, either with torch.compile),
alternated in one process.

    python bench/train_step_speed.py [--model compact] [--batch 8] [--crop 128] [--threads 1]
        [--steps 4] [--rounds 2] [--variant fp32 --variant bf16 ...]

One step is ``training.train.Trainer.train_step`` itself (forward under autocast when bf16, the RD
loss in fp32, one backward, clipping, Adam) on a fixed batch of random images and text mask. The
variants alternate for ``--rounds`` rounds so that a busy host slows them alike; the first step of
each round is the warm-up (for the compiled variant: the compilation, minutes the first time) and is
not counted. On CPUs with AMX / AVX512-BF16, oneDNN runs the bf16 convolutions there.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.train import REPO, TrainConfig, Trainer  # noqa: E402

SMOKE = REPO / "training" / "configs" / "cpu_smoke.yaml"  # a data-free config to start from


VARIANTS = {  # label -> TrainConfig fields
    "fp32": {"mixed_precision": "none"},
    "bf16": {"mixed_precision": "bf16"},
    "fp32+compile": {"mixed_precision": "none", "compile": True},
    "bf16+compile": {"mixed_precision": "bf16", "compile": True},
}


def step_times(model_name: str, variant: str, batch: int, crop: int, steps: int) -> list[float]:
    """Wall seconds of ``steps`` calls of ``Trainer.train_step`` on one random batch, after a warm-up."""
    config = dataclasses.replace(
        TrainConfig.load(SMOKE), model=model_name, model_overrides={}, batch_size=batch,
        lr=1e-5, steps=10**6, **VARIANTS[variant],
    )
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(config, Path(out), torch.device("cpu"))
        x = torch.rand(batch, 3, crop, crop)
        mask = (torch.rand(batch, 1, crop, crop) > 0.8).float()
        trainer.batches = itertools.repeat((x, mask))  # the speed does not depend on content
        times = []
        for _ in range(steps + 1):
            start = time.perf_counter()
            trainer.train_step()
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
    parser.add_argument("--variant", action="append", choices=list(VARIANTS),
                        help="repeatable; the first is the reference (default: fp32 and bf16)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    measured: dict[str, list[float]] = {v: [] for v in args.variant or ["fp32", "bf16"]}
    for _ in range(args.rounds):
        for variant in measured:
            measured[variant] += step_times(args.model, variant, args.batch, args.crop, args.steps)
    print(f"{args.model}, batch {args.batch} x {args.crop}x{args.crop}, {args.threads} thread(s)")
    reference = next(iter(measured))
    reference_median = statistics.median(measured[reference])
    for variant, times in measured.items():
        median = statistics.median(times)
        print(f"  {variant}: median {median:.3f} s/step (min {min(times):.3f}),"
              f" x{reference_median / median:.2f} over {reference}")


if __name__ == "__main__":
    main()
