"""Train a ScreenContentCodec: variable-rate RD training, resumable, single GPU/CPU or torchrun DDP.

    YAML config ──► model (build_model or a compact checkpoint) + Adam (main) + Adam (quantiles)
    sample index (step, rank, i) ──dataset──► 256x256 crop + text mask;  quality ~ U{1..5} per sample
    x, mask, q ──model (bf16 autocast on CUDA)──► RD loss (eq. 8-11, lambda_q per sample) + aux loss
        ──backward, clip, step──► train.csv / tqdm;  every eval interval ──► val.csv (RD per quality)
    every checkpoint interval and at the end ──► last.pt (full state) + compact.pt[.partKofN]

Usage:
    python -m training.train --config training/configs/compact_screen.yaml [--resume PATH]
        [--max-minutes N] [--device cpu|cuda] [--out runs/NAME] [--threads N]
    torchrun --nproc_per_node=8 -m training.train --config ...   (DistributedDataParallel)

Reproducibility: a batch is a pure function of (seed, step, rank): the sampler derives every
sample index from the step, the per-sample qualities come from a generator seeded by the step,
and the quantisation noise comes from the torch RNG, whose state the full checkpoint carries.
So a resumed run repeats the uninterrupted one step for step (same device, same thread count).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from screen_codec.losses import RateDistortionLoss
from screen_codec.models import ScreenContentCodec, build_model
from training import checkpoint as ckpt
from training.evaluate import append_rows, rate_distortion, synthetic_validation_screens

REPO = Path(__file__).resolve().parent.parent
TRAIN_FIELDS = ("step", "loss", "bpp", "psnr", "text_psnr", "aux_loss", "lr", "it_s")


# ---------------------------------------------------------------- configuration
@dataclass
class DataConfig:
    dir: str | None = None  # built data dir; None: on-the-fly synthetic screens only
    mix: dict[str, float] = field(default_factory=lambda: {"synthetic": 1.0})
    crop: int = 256
    workers: int = 2


@dataclass
class ValidationConfig:
    interval: int = 2000  # steps; 0 disables
    screens: int = 8
    width: int = 768
    height: int = 512


@dataclass
class TrainConfig:
    name: str
    model: str  # a registered model configuration: compact | paper | wacnn
    steps: int  # length of the cosine schedule (the run stops there)
    model_overrides: dict[str, Any] = field(default_factory=dict)
    init: str | None = None  # compact checkpoint whose weights start a new stage (step 0)
    data: DataConfig = field(default_factory=DataConfig)
    batch_size: int = 8  # per process
    lr: float = 1e-4
    lr_min: float = 2.7e-6
    warmup_steps: int = 200  # linear ramp after every optimizer (re)start
    aux_lr: float = 1e-3
    grad_clip: float = 1.0
    seed: int = 0
    text_weighted: bool = True
    mixed_precision: str = "bf16"  # bf16 autocast on CUDA; "none" for fp32 (CPU is always fp32)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    checkpoint_interval: int = 1000
    log_interval: int = 50
    compact_dtype: str = "fp16"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "TrainConfig":
        raw = dict(raw)
        raw["data"] = DataConfig(**raw.get("data", {}))
        raw["validation"] = ValidationConfig(**raw.get("validation", {}))
        return cls(**raw)

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        return cls.from_dict(yaml.safe_load(path.read_text()))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- schedule
@dataclass
class CosineSchedule:
    """Cosine decay from ``lr`` at step 0 to ``lr_min`` at ``steps``, times a linear warm-up over
    ``warmup`` steps after the optimizer (re)started at ``restart_step``. The learning rate is a
    function of the step alone, so a compact checkpoint (optimizer restarted) keeps its place."""

    lr: float
    lr_min: float
    steps: int
    warmup: int
    restart_step: int = 0

    def at(self, step: int) -> float:
        progress = min(step / max(self.steps, 1), 1.0)
        lr = self.lr_min + 0.5 * (self.lr - self.lr_min) * (1.0 + math.cos(math.pi * progress))
        if self.warmup > 0:
            lr *= min(1.0, (step - self.restart_step + 1) / self.warmup)
        return lr

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        lr = self.at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    def state_dict(self) -> dict[str, int]:
        return {"restart_step": self.restart_step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.restart_step = state["restart_step"]


# ---------------------------------------------------------------- data
class _SyntheticCrops(Dataset):
    """Sample ``index`` -> a crop of a synthetic screen rendered from (seed, index)."""

    def __init__(self, crop: int, seed: int) -> None:
        from training.data.synthetic import render_screen

        self.render = render_screen
        self.crop = crop
        self.seed = seed

    def __len__(self) -> int:
        return 2**31 - 1

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        width, height = (int(rng.integers(self.crop, 3 * self.crop)) for _ in range(2))
        screen = self.render(int(rng.integers(2**31)), width, height)
        x0 = int(rng.integers(width - self.crop + 1))
        y0 = int(rng.integers(height - self.crop + 1))
        window = (slice(y0, y0 + self.crop), slice(x0, x0 + self.crop))
        x = torch.from_numpy(np.ascontiguousarray(screen.rgb[window])).permute(2, 0, 1)
        mask = torch.from_numpy(np.ascontiguousarray(screen.text_mask[window]))[None]
        return x.float().div(255.0), mask.float()


def build_dataset(data: DataConfig, seed: int) -> Dataset:
    """The training sample stream for the configured sources."""
    return _SyntheticCrops(data.crop, seed)


class StepBatchSampler(Sampler[list[int]]):
    """Infinite batches of sample indices; batch ``step`` of ``rank`` holds indices
    ``((step * world + rank) * batch + i) mod len`` permuted per pass with a seeded generator."""

    def __init__(
        self, length: int, batch: int, start_step: int, seed: int, rank: int = 0, world: int = 1
    ) -> None:
        self.length, self.batch, self.start_step = length, batch, start_step
        self.seed, self.rank, self.world = seed, rank, world
        self._permutation: tuple[int, torch.Tensor | None] = (-1, None)

    def _index(self, sample: int) -> int:
        epoch, offset = divmod(sample, self.length)
        if self.length >= 2**30:  # on-the-fly sources: every index is a fresh sample
            return offset
        if self._permutation[0] != epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._permutation = (epoch, torch.randperm(self.length, generator=generator))
        return int(self._permutation[1][offset])

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            first = (step * self.world + self.rank) * self.batch
            yield [self._index(first + i) for i in range(self.batch)]
            step += 1


def _seed_worker(worker_id: int) -> None:
    # Samples are functions of their index; this only tames library code that draws globally.
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    data: DataConfig, batch: int, start_step: int, seed: int, rank: int, world: int, pin: bool
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    dataset = build_dataset(data, seed)
    sampler = StepBatchSampler(len(dataset), batch, start_step, seed, rank, world)
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=data.workers,
        worker_init_fn=_seed_worker,
        generator=torch.Generator().manual_seed(seed),  # keeps the global torch RNG untouched
        pin_memory=pin,
        persistent_workers=data.workers > 0,
        prefetch_factor=4 if data.workers > 0 else None,
    )
    return iter(loader)


def sample_qualities(seed: int, step: int, rank: int, batch: int, levels: int) -> torch.Tensor:
    """Uniform quality levels 1..levels per sample, a function of (seed, step, rank)."""
    generator = torch.Generator().manual_seed((seed * 1_000_003 + step) * 1024 + rank)
    return torch.randint(1, levels + 1, (batch,), generator=generator)


# ---------------------------------------------------------------- run bookkeeping
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_info(device: torch.device) -> dict[str, Any]:
    """Git commit and library versions, written beside the config."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    versions = {}
    for package in ("torch", "numpy", "compressai", "PyYAML"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "absent"
    return {
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": git("status", "--porcelain", "--untracked-files=no") not in ("", "unknown"),
        "python": platform.python_version(),
        "versions": versions,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "threads": torch.get_num_threads(),
        "argv": sys.argv,
    }


def append_csv(path: Path, fields: Sequence[str], row: dict[str, Any]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerow(row)


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device_kind: str) -> Distributed:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; without them this is a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Distributed()
    dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    return Distributed(dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))


# ---------------------------------------------------------------- trainer
class Trainer:
    """One training run: model, optimizers, schedule, data stream, logs and checkpoints."""

    def __init__(
        self,
        config: TrainConfig,
        out: Path,
        device: torch.device,
        resume: Path | None = None,
        distributed: Distributed | None = None,
    ) -> None:
        self.config = config
        self.out = out
        self.device = device
        self.dist = distributed or Distributed()
        seed_everything(config.seed + self.dist.rank)

        self.model: ScreenContentCodec = build_model(config.model, **config.model_overrides)
        self.step = 0
        resume_state = self._load_weights(resume)
        self.model.to(device)
        main_params = [p for n, p in self.model.named_parameters() if not n.endswith("quantiles")]
        aux_params = [p for n, p in self.model.named_parameters() if n.endswith("quantiles")]
        self.main_params = main_params
        self.optimizer = torch.optim.Adam(main_params, lr=config.lr)
        self.aux_optimizer = torch.optim.Adam(aux_params, lr=config.aux_lr)
        self.schedule = CosineSchedule(
            config.lr, config.lr_min, config.steps, config.warmup_steps, restart_step=self.step
        )
        if resume_state is not None:
            self.optimizer.load_state_dict(resume_state["optimizer"])
            self.aux_optimizer.load_state_dict(resume_state["aux_optimizer"])
            self.schedule.load_state_dict(resume_state["scheduler"])
            ckpt.set_rng_states(resume_state["rng"])

        self.network: nn.Module = self.model
        if self.dist.world > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.network = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.criterion = RateDistortionLoss(text_weighted=config.text_weighted)
        self.lambdas = torch.tensor(self.model.config.lambdas, device=device)
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if device.type == "cuda" and config.mixed_precision == "bf16"
            else nullcontext()
        )
        self.batches = make_loader(
            config.data,
            config.batch_size,
            self.step,
            config.seed,
            self.dist.rank,
            self.dist.world,
            pin=device.type == "cuda",
        )
        self._val_screens: list | None = None

    def _load_weights(self, resume: Path | None) -> dict[str, Any] | None:
        """Full checkpoint: everything (returned for the optimizers); compact: weights and step;
        else the config's ``init`` compact checkpoint: weights only (a new stage at step 0)."""
        if resume is not None and ckpt.is_full_checkpoint(resume):
            state = ckpt.load_training_state(resume)
            self._check_config(json.loads(state["model_config"]), resume)
            ckpt.load_learned_state(self.model, state["model"])
            self.step = state["step"]
            return state
        source = resume or (Path(self.config.init) if self.config.init else None)
        if source is not None:
            compact = ckpt.read_compact(source)
            self._check_config(json.loads(compact["config"]), source)
            ckpt.load_learned_state(self.model, {k: v.float() for k, v in compact["state"].items()})
            if resume is not None:
                self.step = int(compact["metadata"]["step"])
        return None

    def _check_config(self, saved: dict[str, Any], source: Path) -> None:
        ours = json.loads(self.model.config.to_json())
        if saved != ours:
            diff = {k: (saved.get(k), ours.get(k)) for k in ours if saved.get(k) != ours.get(k)}
            raise ValueError(f"{source} holds a different model configuration: {diff}")

    # -- one step
    def train_step(self) -> dict[str, float]:
        """One optimisation step on the next batch; returns its metrics."""
        x, mask = next(self.batches)
        x = x.to(self.device, non_blocking=True)
        mask = mask.to(self.device, non_blocking=True)
        quality = sample_qualities(
            self.config.seed, self.step, self.dist.rank, x.shape[0], self.model.config.num_qualities
        ).to(self.device)
        lr = self.schedule.apply(self.optimizer, self.step)

        with self.autocast:
            out = self.network(x, mask, quality)
        out = _to_float(out)  # the loss, especially -log2 p, in fp32
        metrics = self.criterion(out, x, mask, self.lambdas[quality - 1])
        aux_loss = self.model.auxiliary_loss()
        # One backward: the RD loss never reaches the quantiles (noise mode ignores the medians)
        # and the aux loss reaches only them, so the two optimizers see their CompressAI
        # gradients, and DDP sees a single reduction per step.
        self.optimizer.zero_grad(set_to_none=True)
        self.aux_optimizer.zero_grad(set_to_none=True)
        (metrics["loss"] + aux_loss).backward()
        if self.config.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.main_params, self.config.grad_clip)
        self.optimizer.step()
        self.aux_optimizer.step()
        self.step += 1
        return {
            "loss": float(metrics["loss"].detach()),
            "bpp": float(metrics["bpp"].detach()),
            "psnr": float(metrics["psnr"]),
            "text_psnr": float(metrics["text_psnr"]),
            "aux_loss": float(aux_loss.detach()),
            "lr": lr,
        }

    # -- validation and checkpoints (main process only)
    def validate(self) -> list[dict[str, float]]:
        val = self.config.validation
        if self._val_screens is None:
            self._val_screens = synthetic_validation_screens(val.screens, val.width, val.height)
        with self.autocast:
            rows = rate_distortion(self.model, self._val_screens, self.device)
        append_rows(self.out / "val.csv", self.step, rows)
        return rows

    def training_state(self) -> dict[str, Any]:
        return {
            "model": ckpt.learned_state(self.model),
            "model_config": self.model.config.to_json(),
            "optimizer": self.optimizer.state_dict(),
            "aux_optimizer": self.aux_optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "step": self.step,
            "rng": ckpt.rng_states(),
            "train_config": self.config.to_dict(),
        }

    def save(self) -> list[Path]:
        """last.pt (full) and compact.pt[.partKofN]; returns the compact files."""
        ckpt.save_training_state(self.out / "last.pt", self.training_state())
        metadata = {"step": self.step, "train_config": self.config.name, **run_info(self.device)}
        return ckpt.save_compact(
            self.out / "compact.pt", self.model, metadata, self.config.compact_dtype
        )

    # -- the loop
    def fit(self, max_minutes: float | None = None) -> int:
        """Train until ``config.steps`` or the wall-clock budget; returns the final step."""
        config, main = self.config, self.dist.main
        deadline = time.monotonic() + 60.0 * max_minutes if max_minutes else math.inf
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
            (self.out / "run_info.json").write_text(json.dumps(run_info(self.device), indent=2))
        bar = tqdm(
            total=config.steps,
            initial=self.step,
            disable=not main,
            dynamic_ncols=True,
            mininterval=1.0 if sys.stderr.isatty() else 30.0,
        )
        window: list[dict[str, float]] = []
        window_start = time.monotonic()
        saved_at = self.step
        while self.step < config.steps and time.monotonic() < deadline:
            window.append(self.train_step())
            bar.update(1)
            if main and (self.step % config.log_interval == 0 or self.step == config.steps):
                row = _mean_metrics(window)
                row.update(step=self.step, lr=window[-1]["lr"])
                row["it_s"] = len(window) / (time.monotonic() - window_start)
                append_csv(self.out / "train.csv", TRAIN_FIELDS, row)
                bar.set_postfix(loss=f"{row['loss']:.3f}", bpp=f"{row['bpp']:.3f}", psnr=f"{row['psnr']:.2f}")
                window, window_start = [], time.monotonic()
            if main and config.validation.interval and self.step % config.validation.interval == 0:
                self.validate()
            if main and self.step % config.checkpoint_interval == 0:
                self.save()
                saved_at = self.step
        bar.close()
        if main and saved_at != self.step:
            self.save()
        return self.step


def _to_float(out: dict) -> dict:
    return {
        key: _to_float(value) if isinstance(value, dict) else value.float()
        for key, value in out.items()
    }


def _mean_metrics(window: list[dict[str, float]]) -> dict[str, float]:
    keys = ("loss", "bpp", "psnr", "text_psnr", "aux_loss")
    return {k: float(np.nanmean([m[k] for m in window])) if window else math.nan for k in keys}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train a screen-content codec (see docs/TRAINING.md)")
    parser.add_argument("--config", type=Path, required=True, help="training/configs/<name>.yaml")
    parser.add_argument("--resume", type=Path, help="full (last.pt) or compact checkpoint")
    parser.add_argument("--max-minutes", type=float, help="wall-clock budget; saves and stops")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, help="run directory (default runs/<config name>)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 on a shared machine)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig.load(args.config)
    distributed = init_distributed(args.device)
    device = torch.device(args.device)
    if device.type == "cuda":
        device = torch.device("cuda", distributed.local_rank)
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    out = args.out or REPO / "runs" / config.name
    trainer = Trainer(config, out, device, args.resume, distributed)
    if distributed.main:
        print(f"training {config.name} from step {trainer.step} on {device} -> {out}", flush=True)
    step = trainer.fit(args.max_minutes)
    if distributed.main:
        print(f"stopped at step {step}; checkpoints in {out}", flush=True)
    if distributed.world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
