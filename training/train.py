"""Train a ScreenContentCodec: variable-rate RD training, resumable, single GPU/CPU or torchrun DDP.

    YAML config ──► model (build_model or a compact checkpoint) + Adam (main) + Adam (quantiles)
    sample index (step, rank, i) ──dataset──► 256x256 crop + text mask;  quality ~ U{1..5} or weighted
    x, mask, q ──model (bf16 autocast where native)──► RD loss (eq. 8-11, lambda_q per sample) + aux loss
        ──backward, clip, step──► train.csv / tqdm;  every eval interval ──► val.csv (RD per quality)
        └─(ema_decay set) exponential moving average of the weights (main process)
    every checkpoint interval and at the end ──► last.pt (full state) + compact.pt[.partKofN]
                                                 (+ compact_ema.pt: the averaged weights)

Usage:
    python -m training.train --config training/configs/compact_screen.yaml [--resume PATH]
        [--max-minutes N] [--stop-at STEP] [--device cpu|cuda] [--out runs/NAME] [--threads N]
    torchrun --nproc_per_node=8 -m training.train --config ...   (DistributedDataParallel)

Reproducibility: a batch is a pure function of (seed, step, rank) (StepBatches), so are the
per-sample qualities, and the quantisation noise comes from the torch RNG, whose state the full
checkpoint carries.
So a resumed run repeats the uninterrupted one step for step (same device, same thread count),
and drops the rows its logs hold past the checkpoint's step before it replays them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import random
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
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from screen_codec.entropy.slices import RATE_QUANTISATIONS
from screen_codec.losses import RateDistortionLoss
from screen_codec.models import ModelConfig, ScreenContentCodec, build_model
from training import checkpoint as ckpt
from training.data.dataset import CropDataset, SyntheticStream, random_crop, seed_worker, to_sample
from training.data.synthetic import SYNTHETIC_VAL_SEED0, render_screen
from training.evaluate import append_csv, append_rows, drop_rows_after, rate_distortion, validation_screens
from training.provenance import REPO, cpu_name, git, package_version, read_cpuinfo

RENDERED = "rendered"  # mix key of screens rendered on the fly (needs the fonts; not on GPU hosts)
TRAIN_FIELDS = ("step", "loss", "bpp", "psnr", "text_psnr", "aux_loss", "lr", "it_s")


# ---------------------------------------------------------------- configuration
@dataclass
class DataConfig:
    dir: str | None = None  # built data dir or shard .tar; None: rendered screens only
    # Sampling weights: stored kinds (screenshot | synthetic | natural) and/or "rendered".
    mix: dict[str, float] = field(default_factory=lambda: {RENDERED: 1.0})
    crop: int = 256
    mask_source: str = "gt_or_detector"  # CropDataset: exact masks where known, else detector's
    workers: int = 2  # DataLoader processes, each building whole batches
    # Directory of decoded stored images (training/data/decoded.py): each is decoded once, crops
    # read memory maps; None decodes every sample (the two-process CPU run: 2.53 it/s, 2.67 with it).
    decoded_cache: str | None = None


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
    # Set: a warm restart instead, the cosine from ``lr`` at the step the run resumed from a compact
    # checkpoint, or from another run's full state (Adam kept; set warmup_steps 0), or started, to
    # ``lr_min`` this many steps later, where the run stops; ``steps`` is then unused. Resuming the
    # same run's last.pt continues its cycle. For sessions that continue a checkpoint of any step
    # (training/gpu_session.sh) and CPU phases that continue an A/B arm.
    cycle_steps: int | None = None
    model_overrides: dict[str, Any] = field(default_factory=dict)
    init: str | None = None  # compact checkpoint whose weights start a new stage (step 0)
    data: DataConfig = field(default_factory=DataConfig)
    batch_size: int = 8  # per process
    lr: float = 1e-4
    lr_min: float = 2.7e-6
    warmup_steps: int = 200  # linear ramp after every optimizer (re)start
    aux_lr: float = 1e-3
    grad_clip: float = 1.0
    # Polyak averaging: an exponential moving average of the weights over ~1 / (1 - ema_decay) steps,
    # updated after every step and kept beside them (last.pt); every save also writes it as
    # compact_ema.pt, so one run scores the averaged weights against the trained ones. None: off.
    ema_decay: float | None = None
    seed: int = 0
    text_weighted: bool = True
    # Relative sampling weights of quality levels 1..num_qualities (quality_probabilities); None: uniform.
    # Skewing them spends the shared transforms' capacity where the RD curve is weakest.
    quality_weights: list[float] | None = None
    # The rate term's quantiser of the y residuals (screen_codec.entropy.slices): "noise" (additive
    # uniform noise) or "ste" (rounded, straight-through: what the rANS coder pays; a fine-tuning
    # stage after noise, Guo et al. 2021).
    rate_quantisation: str = "noise"
    # Prefixes of the parameter names this run trains; None: every parameter. ENCODER_PARTS trains
    # the encoder side alone (g_a with its prior branch, h_a, the forward gains): every decoder
    # network and entropy table stays as it was, so the new encoder's streams decode with the old
    # decoder. Why: with the decoder fixed, latents optimised per image give ~2 dB more at q5 for the
    # same bits (bench/amortisation_gap.py): the encoder caps the default (phase 68: an hour of it on
    # the CPU moved nothing; a GPU session's experiment).
    trained_parts: list[str] | None = None
    # bf16 autocast of the networks: "bf16", "none" (fp32) or "auto" (bf16_is_native). The entropy
    # models and the loss stay fp32. With AMX/AVX512-BF16 (oneDNN) a compact step runs 1.45x faster
    # than in fp32; without them (Cascade Lake) bf16 autocast ran ~1.8x slower than fp32.
    mixed_precision: str = "auto"
    # torch.compile (inductor) the training network. On the 2-core AMD EPYC host a compact bf16 step
    # ran x1.08-1.12 faster, idle (bench/train_step_speed.py --variant bf16 --variant bf16+compile), and
    # a two-process run x1.13; on an AVX2-only EPYC in fp32 a compiled 512x512 step was slower
    # (x0.85 side by side in one process, --variant fp32 --variant fp32+compile; docs/TRAINING.md);
    # the first step compiles for minutes (cached under /tmp/torchinductor_$USER for later runs).
    compile: bool = False
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
        """A YAML config. ``extends: OTHER.yaml`` (beside it) reads OTHER first and lets this file's
        keys replace OTHER's, within a section (``data``, ``validation``, ``model_overrides``) key by
        key (``data: {crop: 256}`` keeps OTHER's mix), so a phase config names only what differs
        from the run it continues."""
        raw = yaml.safe_load(path.read_text())
        base = raw.pop("extends", None)
        if base is not None:
            inherited = cls.load(path.parent / base).to_dict()
            raw = {
                key: {**inherited[key], **value} if isinstance(inherited.get(key), dict) else value
                for key, value in raw.items()
            }
            raw = {**inherited, **raw}
        return cls.from_dict(raw)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- schedule
@dataclass
class CosineSchedule:
    """Cosine decay from ``lr`` at step 0 to ``lr_min`` at ``steps``, times a linear warm-up over
    ``warmup`` steps after the optimizer (re)started at ``restart_step``. The learning rate is a
    function of the step alone, so a compact checkpoint (optimizer restarted) keeps its place.
    With ``cycle`` the cosine runs from ``restart_step`` to ``restart_step + cycle`` instead."""

    lr: float
    lr_min: float
    steps: int
    warmup: int
    restart_step: int = 0
    cycle: int | None = None

    @property
    def start(self) -> int:
        return self.restart_step if self.cycle else 0

    @property
    def end(self) -> int:
        """The step where the cosine reaches ``lr_min`` and the run stops."""
        return self.restart_step + self.cycle if self.cycle else self.steps

    def at(self, step: int) -> float:
        progress = min((step - self.start) / max(self.end - self.start, 1), 1.0)
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
class StepBatches(Dataset):
    """Item ``step`` -> this rank's batch of that step, a pure function of (seed, step, rank).

    Built from training/data/dataset.py's parts: stored crops come from one ``CropDataset`` per
    stored kind (screenshot | synthetic | natural) of the data dir or shard tar, rendered ones from
    ``render_screen`` with ``SyntheticStream``'s sizes and crops per screen. Its streams seed per
    DataLoader worker, which a resumed run cannot replay; keying each batch on its step can.
    """

    def __init__(self, data: DataConfig, batch: int, seed: int, rank: int) -> None:
        self.batch, self.seed, self.rank = batch, seed, rank
        self.sources = list(data.mix)
        weights = np.array([data.mix[s] for s in self.sources], dtype=np.float64)
        if (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"data.mix needs non-negative weights with a positive sum: {data.mix}")
        self.weights = weights / weights.sum()
        stored = [s for s in self.sources if s != RENDERED]
        if stored and data.dir is None:
            raise ValueError(f"data.mix names stored kinds {stored} but data.dir is not set")
        self.stored = {
            kind: CropDataset(Path(data.dir), "train", data.crop, (kind,), data.mask_source, seed,
                              Path(data.decoded_cache) if data.decoded_cache else None)
            for kind in stored
        }
        empty = [kind for kind, dataset in self.stored.items() if len(dataset) == 0]
        if empty:
            raise ValueError(f"no training items of kind {empty} in {data.dir}")
        self.rendered = SyntheticStream(crop=data.crop)

    def __len__(self) -> int:
        return 2**62

    def _rendered(self, rng: np.random.Generator, count: int) -> list[dict[str, torch.Tensor]]:
        samples: list[dict[str, torch.Tensor]] = []
        while len(samples) < count:
            width, height = self.rendered.sizes[rng.integers(len(self.rendered.sizes))]
            screen = render_screen(int(rng.integers(SYNTHETIC_VAL_SEED0)), width, height)
            for _ in range(min(self.rendered.crops_per_screen, count - len(samples))):
                crop = random_crop(rng, screen.rgb, screen.text_mask, self.rendered.crop)
                samples.append(to_sample(*crop))
        return samples

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, self.rank])
        samples: list[dict[str, torch.Tensor]] = []
        for source, count in zip(self.sources, rng.multinomial(self.batch, self.weights)):
            if source == RENDERED:
                samples += self._rendered(rng, int(count))
            else:
                dataset = self.stored[source]
                samples += [dataset.sample(int(rng.integers(len(dataset))), rng) for _ in range(count)]
        return (
            torch.stack([sample["image"] for sample in samples]),
            torch.stack([sample["mask"] for sample in samples]),
        )


def make_loader(
    data: DataConfig, batch: int, start_step: int, seed: int, rank: int, pin: bool
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches from ``start_step`` on; workers build whole batches, in step order."""
    loader = DataLoader(
        StepBatches(data, batch, seed, rank),
        batch_size=None,  # items are batches already
        sampler=range(start_step, 2**62),
        num_workers=data.workers,
        worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed(seed),  # keeps the global torch RNG untouched
        pin_memory=pin,
        persistent_workers=data.workers > 0,
        prefetch_factor=2 if data.workers > 0 else None,
    )
    return iter(loader)


# The encoder side of ScreenContentCodec: g_a (with g_a,p, eq. 1), h_a (eq. 2) and the gains applied
# before quantisation; everything else is read by the decoder.
ENCODER_PARTS = ["analysis.", "hyper_analysis.", "gains.log_gain", "gains.log_hyper_gain"]


def trained_parameters(model: nn.Module, parts: Sequence[str] | None) -> list[tuple[str, nn.Parameter]]:
    """The (name, parameter) pairs a run trains: all, or those whose names start with one of
    ``parts``; the others are frozen (requires_grad off). A part that names nothing is refused."""
    named = list(model.named_parameters())
    if parts is None:
        return named
    unmatched = [part for part in parts if not any(name.startswith(part) for name, _ in named)]
    if unmatched or not parts:
        raise ValueError(f"trained_parts {list(parts)}: {unmatched or 'empty'} names no parameter")
    for name, parameter in named:
        parameter.requires_grad_(any(name.startswith(part) for part in parts))
    return [(name, parameter) for name, parameter in named if parameter.requires_grad]


def quality_probabilities(levels: int, weights: Sequence[float] | None) -> torch.Tensor | None:
    """The config's ``quality_weights`` as the levels' sampling probabilities; None stays uniform."""
    if weights is None:
        return None
    if len(weights) != levels or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"quality_weights needs {levels} non-negative weights, not all zero: {weights}")
    probabilities = torch.tensor(weights, dtype=torch.float64)
    return probabilities / probabilities.sum()


def sample_qualities(
    seed: int, step: int, rank: int, batch: int, levels: int, probabilities: torch.Tensor | None = None
) -> torch.Tensor:
    """Quality levels 1..levels per sample, a function of (seed, step, rank): uniform, or drawn
    with ``probabilities`` (quality_probabilities)."""
    generator = torch.Generator().manual_seed((seed * 1_000_003 + step) * 1024 + rank)
    if probabilities is None:
        return torch.randint(1, levels + 1, (batch,), generator=generator)
    return torch.multinomial(probabilities, batch, replacement=True, generator=generator) + 1


# ---------------------------------------------------------------- run bookkeeping
def bf16_is_native(device: torch.device, cpu_flags: frozenset[str] | None = None) -> bool:
    """Whether bf16 autocast speeds training up here: CUDA GPUs with bf16 support, or CPUs whose
    oneDNN kernels have bf16 instructions (AMX or AVX512-BF16; other CPUs emulate bf16, slower
    than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    flags = frozenset(read_cpuinfo("flags").split()) if cpu_flags is None else cpu_flags
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def uses_bf16(mixed_precision: str, device: torch.device) -> bool:
    """Resolve the config's mixed_precision (auto | bf16 | none) for this device."""
    if mixed_precision not in ("auto", "bf16", "none"):
        raise ValueError(f"mixed_precision must be auto, bf16 or none, not {mixed_precision!r}")
    return mixed_precision == "bf16" or (mixed_precision == "auto" and bf16_is_native(device))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_info(device: torch.device) -> dict[str, Any]:
    """Git commit, library versions and host, written beside the config."""
    packages = ("torch", "numpy", "compressai", "PyYAML")
    versions = {package: package_version(package) for package in packages}
    return {
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": git("status", "--porcelain", "--untracked-files=no") not in ("", "unknown"),
        "python": platform.python_version(),
        "versions": versions,
        "cuda": torch.version.cuda,
        "device": (
            torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else f"cpu {cpu_name()} x{os.cpu_count()}"
        ),
        "threads": torch.get_num_threads(),
        "argv": sys.argv,
    }


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
        if config.rate_quantisation not in RATE_QUANTISATIONS:
            raise ValueError(f"rate_quantisation must be one of {RATE_QUANTISATIONS}")
        self.model.slices.rate_quantisation = config.rate_quantisation
        self.step = 0
        resume_state = self._load_weights(resume)
        self.model.to(device)
        trained = trained_parameters(self.model, config.trained_parts)
        main_params = [p for n, p in trained if not n.endswith("quantiles")]
        aux_params = [p for n, p in trained if n.endswith("quantiles")]
        self.main_params = main_params
        self.optimizer = torch.optim.Adam(main_params, lr=config.lr)
        # The quantiles place the hyper-latent's CDF tables, so they freeze with the decoder; Adam
        # refuses an empty list, and an empty tensor keeps one code path for steps and checkpoints.
        self.aux_optimizer = torch.optim.Adam(aux_params or [nn.Parameter(torch.zeros(0))], lr=config.aux_lr)
        self.schedule = CosineSchedule(
            config.lr, config.lr_min, config.steps, config.warmup_steps, restart_step=self.step,
            cycle=config.cycle_steps,
        )
        if resume_state is not None:
            self.optimizer.load_state_dict(resume_state["optimizer"])
            self.aux_optimizer.load_state_dict(resume_state["aux_optimizer"])
            self.schedule.load_state_dict(resume_state["scheduler"])
            if config.cycle_steps and resume_state["train_config"]["name"] != config.name:
                # A new phase from another run's full state: its cycle starts here, Adam kept.
                self.schedule.restart_step = self.step
            ckpt.set_rng_states(resume_state["rng"])
            if self.dist.world > 1:  # the saved states are rank 0's: keep the ranks' noise apart
                seed_everything(config.seed * 1_000_003 + self.step * 1024 + self.dist.rank)
        if resume is not None and self.dist.main:  # the steps after the checkpoint are replayed
            for log in ("train.csv", "val.csv"):
                drop_rows_after(out / log, self.step)

        self.network: nn.Module = self.model
        if self.dist.world > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.network = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if config.compile:  # around DDP, so that its buckets split the graph (DDPOptimizer)
            self.network = torch.compile(self.network)
        self.ema = self._weight_average(resume_state)
        self.criterion = RateDistortionLoss(text_weighted=config.text_weighted)
        self.lambdas = torch.tensor(self.model.config.lambdas, device=device)
        # checked here, before any batch: a wrong list costs no training time
        self.quality_probabilities = quality_probabilities(self.model.config.num_qualities, config.quality_weights)
        self.bf16 = uses_bf16(config.mixed_precision, device)
        # taken once: the checkpoints of a run name the commit it started from, not HEAD at save time
        self.run_info = {**run_info(device), "bf16_autocast": self.bf16}
        self.autocast = (
            torch.autocast(device.type, dtype=torch.bfloat16) if self.bf16 else nullcontext()
        )
        self.batches = make_loader(
            config.data,
            config.batch_size,
            self.step,
            config.seed,
            self.dist.rank,
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
            saved = json.loads(compact["config"])
            self._check_config(saved, source)
            state = ckpt.extend_quality_levels({k: v.float() for k, v in compact["state"].items()},
                                               ModelConfig.from_dict(saved).lambdas, self.model.config.lambdas)
            ckpt.load_learned_state(self.model, state)
            if resume is not None:
                self.step = int(compact["metadata"]["step"])
        return None

    def _weight_average(self, resume_state: dict[str, Any] | None) -> AveragedModel | None:
        """The EMA of the weights (main process only: the ranks hold the same weights), continued
        from a full checkpoint that carries one, else started at the current weights."""
        if not self.config.ema_decay or not self.dist.main:
            return None
        ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(self.config.ema_decay))
        saved = (resume_state or {}).get("ema")
        if saved is not None:
            ckpt.load_learned_state(ema.module, saved["model"])
            ema.n_averaged.fill_(saved["n_averaged"])
        return ema

    def _check_config(self, saved: dict[str, Any], source: Path) -> None:
        """The checkpoint's model configuration must be ours, except in fields this run overrides on
        purpose (switching ``equivariant_entropy`` on to fine-tune a trained model); a change of
        shape still fails when the weights load."""
        ours = dataclasses.asdict(self.model.config)
        theirs = dataclasses.asdict(ModelConfig.from_dict(saved))
        diff = {k: (theirs[k], ours[k]) for k in ours
                if theirs[k] != ours[k] and k not in self.config.model_overrides}
        if diff:
            raise ValueError(f"{source} holds a different model configuration: {diff}")

    # -- one step
    def train_step(self) -> dict[str, float]:
        """One optimisation step on the next batch; returns its metrics."""
        x, mask = next(self.batches)
        x = x.to(self.device, non_blocking=True)
        mask = mask.to(self.device, non_blocking=True)
        quality = sample_qualities(
            self.config.seed, self.step, self.dist.rank, x.shape[0], self.model.config.num_qualities,
            self.quality_probabilities,
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
        if self.ema is not None:
            self.ema.update_parameters(self.model)
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
            self._val_screens = validation_screens(
                self.config.data.dir, val.screens, val.width, val.height
            )
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
            **({"ema": {"model": ckpt.learned_state(self.ema.module), "n_averaged": int(self.ema.n_averaged)}}
               if self.ema is not None else {}),
        }

    def save(self) -> list[Path]:
        """last.pt (full), compact.pt[.partKofN] and, with ema_decay, compact_ema.pt[.partKofN]
        (named by its own train_config, so benchmarks tell the two apart); returns the compact files."""
        ckpt.save_training_state(self.out / "last.pt", self.training_state())
        metadata = {"step": self.step, "train_config": self.config.name, **self.run_info}
        files = ckpt.save_compact(self.out / "compact.pt", self.model, metadata, self.config.compact_dtype)
        if self.ema is not None:
            ema_metadata = {**metadata, "train_config": f"{self.config.name}.ema", "ema_decay": self.config.ema_decay}
            files += ckpt.save_compact(self.out / "compact_ema.pt", self.ema.module, ema_metadata,
                                       self.config.compact_dtype)
        return files

    # -- the loop
    def fit(self, max_minutes: float | None = None, stop_at: int | None = None) -> int:
        """Train until the schedule's end, the wall-clock budget or step ``stop_at`` (the schedule
        unchanged: an A/B arm cut where another run was); returns the final step."""
        config, main = self.config, self.dist.main
        deadline = time.monotonic() + 60.0 * max_minutes if max_minutes else math.inf
        end = self.schedule.end
        last_step = min(end, stop_at) if stop_at is not None else end
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
            (self.out / "run_info.json").write_text(json.dumps(self.run_info, indent=2))
        bar = tqdm(
            total=end,
            initial=self.step,
            disable=not main,
            dynamic_ncols=True,
            mininterval=1.0 if sys.stderr.isatty() else 30.0,
        )
        window: list[dict[str, float]] = []
        window_start = time.monotonic()
        saved_at = -1  # the run dir always ends with checkpoints, even after zero steps
        while self.step < last_step and time.monotonic() < deadline:
            window.append(self.train_step())
            bar.update(1)
            if main and (self.step % config.log_interval == 0 or self.step == end):
                row = _mean_metrics(window)
                row.update(step=self.step, lr=window[-1]["lr"])
                row["it_s"] = len(window) / (time.monotonic() - window_start)
                append_csv(self.out / "train.csv", TRAIN_FIELDS, [row])
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
    """Means over the window; text PSNR over the steps whose batch had text."""
    means = {}
    for key in ("loss", "bpp", "psnr", "text_psnr", "aux_loss"):
        values = [m[key] for m in window if not math.isnan(m[key])]
        means[key] = sum(values) / len(values) if values else math.nan
    return means


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train a screen-content codec (see docs/TRAINING.md)")
    parser.add_argument("--config", type=Path, required=True, help="training/configs/<name>.yaml")
    parser.add_argument("--resume", type=Path, help="full (last.pt) or compact checkpoint")
    parser.add_argument("--max-minutes", type=float, help="wall-clock budget; saves and stops")
    parser.add_argument("--stop-at", type=int, help="save and stop after this step (schedule unchanged)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, help="run directory (default runs/<config name>)")
    parser.add_argument("--data", help="data dir or shard .tar (overrides the config's data.dir)")
    parser.add_argument("--decoded-cache", help="directory of decoded images (overrides data.decoded_cache)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 on a shared machine)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig.load(args.config)
    if args.data:
        config.data.dir = args.data
    if args.decoded_cache:
        config.data.decoded_cache = args.decoded_cache
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
        precision = "bf16 autocast" if trainer.bf16 else "fp32"
        start = f"training {config.name} from step {trainer.step} on {device} ({precision})"
        print(f"{start} -> {out}", flush=True)
    step = trainer.fit(args.max_minutes, args.stop_at)
    if distributed.main:
        print(f"stopped at step {step}; checkpoints in {out}", flush=True)
    if distributed.world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
