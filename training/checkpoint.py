"""Checkpoints: full training state (resume exactly) and compact weights (carry between hosts).

    full:     model + optimizers + scheduler + step + RNG states ──torch.save──► <run>/last.pt
    compact:  weights (conv kernels fp16/bf16, the rest fp32) + model config + metadata
              ──torch.save──► bytes ──split ≤ 16 MiB──► compact.pt | compact.pt.part1of2, ...

A compact checkpoint restarts the optimizers (their moments would triple its size); the step in
its metadata keeps the learning-rate schedule where it was. The rANS tables (``_quantized_cdf``,
``_offset``, ``_cdf_length``) are never stored: they are derived by
``model.update_entropy_tables()`` and their shapes change when they are, which would break
strict loading into a fresh model.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from screen_codec.models import ModelConfig, ScreenContentCodec

COMPACT_FORMAT = "screen_codec.compact/1"
FULL_FORMAT = "screen_codec.training/1"
PART_BYTES = 16 * 2**20  # the GPU tool returns files of at most 16 MiB
_DERIVED_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length")
_HALF_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def learned_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict without the derived rANS tables."""
    return {
        name: tensor
        for name, tensor in model.state_dict().items()
        if not name.endswith(_DERIVED_BUFFERS)
    }


def load_learned_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load ``state`` strictly except for the derived rANS tables (left empty until updated)."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [name for name in missing if not name.endswith(_DERIVED_BUFFERS)]
    if missing or unexpected:
        raise KeyError(f"checkpoint does not match the model: missing {missing}, unexpected {unexpected}")


def extrapolate_gains(table: torch.Tensor, below: int, above: int) -> torch.Tensor:
    """A log-gain table (levels x channels) continued linearly past both ends:
    log g_(Q+k) = log g_Q + k (log g_Q - log g_(Q-1)),  log g_(1-k) = log g_1 - k (log g_2 - log g_1)."""
    low = [table[0] - k * (table[1] - table[0]) for k in range(below, 0, -1)]
    high = [table[-1] + k * (table[-1] - table[-2]) for k in range(1, above + 1)]
    return torch.stack(low + [*table] + high)


def extend_quality_levels(state: dict[str, torch.Tensor], trained: Sequence[float],
                          wanted: Sequence[float]) -> dict[str, torch.Tensor]:
    """Weights trained for the quality levels (lambdas) ``trained``, for a model whose levels
    ``wanted`` are those with levels added below and/or above: the new rows of the gain tables start
    on the log-linear extrapolation of the trained ones (``extrapolate_gains``), so fine-tuning
    starts from the codec that bench/gain_extrapolation.py measures."""
    trained, wanted = tuple(trained), tuple(wanted)
    starts = [i for i in range(len(wanted) - len(trained) + 1) if wanted[i:i + len(trained)] == trained]
    if not starts:
        raise ValueError(f"quality levels {wanted} do not contain the trained levels {trained} in order")
    below, above = starts[0], len(wanted) - len(trained) - starts[0]
    if below == above == 0:
        return state
    # every parameter of QualityGains (``gains.*``) is a levels x channels log-gain table
    return {name: extrapolate_gains(tensor, below, above) if name.startswith("gains.") else tensor
            for name, tensor in state.items()}


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _serialise(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- full training state
def rng_states() -> dict[str, Any]:
    """Every RNG the training step draws from (model noise: torch; augmentation: numpy/python)."""
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_training_state(path: Path, state: dict[str, Any]) -> None:
    """Write a full checkpoint atomically. ``state``: model/optimizer/scheduler state dicts, step,
    the train config and ``rng_states()`` (see train.Trainer.training_state)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, _serialise({"format": FULL_FORMAT, **state}))


def load_training_state(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    state = torch.load(path, map_location=map_location, weights_only=False)
    if state.get("format") != FULL_FORMAT:
        raise ValueError(f"{path} is not a full training checkpoint ({state.get('format')!r})")
    return state


def is_full_checkpoint(path: Path) -> bool:
    """True for a full checkpoint file, False for a compact one (single file or parts)."""
    if not path.is_file():
        return False
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head != b"PK\x03\x04":  # a compact part after the first is not a zip
        return False
    obj = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    return obj.get("format") == FULL_FORMAT


# ---------------------------------------------------------------- compact weights
def compact_state(model: ScreenContentCodec, dtype: str = "fp16") -> dict[str, torch.Tensor]:
    """Conv kernels (4-D, >95% of the bytes) in half precision; GDN, gains, entropy-bottleneck
    and bias tensors stay fp32 (GDN's reparametrised beta/gamma live near 2^-18, below fp16's
    normal range)."""
    half = _HALF_DTYPES[dtype]
    return {
        name: (tensor.to(half) if tensor.ndim == 4 else tensor.float()).detach().cpu().clone()
        for name, tensor in learned_state(model).items()
    }


def _part_paths(path: Path, count: int) -> list[Path]:
    return [path.with_name(f"{path.name}.part{i}of{count}") for i in range(1, count + 1)]


def compact_files(path: Path) -> list[Path]:
    """The files of the compact checkpoint at ``path`` (itself, or its parts in order)."""
    if path.is_file():
        return [path]
    pattern = re.compile(re.escape(path.name) + r"\.part(\d+)of(\d+)$")
    found = [m for p in path.parent.glob(path.name + ".part*") if (m := pattern.match(p.name))]
    if not found:
        raise FileNotFoundError(f"no compact checkpoint at {path} (nor parts {path.name}.partKofN)")
    counts = {int(m.group(2)) for m in found}
    if len(counts) != 1:
        raise ValueError(f"parts of different splits beside {path}: {sorted(counts)}")
    parts = _part_paths(path, counts.pop())
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"compact checkpoint {path} is missing parts {missing}")
    return parts


def save_compact(
    path: Path,
    model: ScreenContentCodec,
    metadata: dict[str, Any],
    dtype: str = "fp16",
    part_bytes: int = PART_BYTES,
) -> list[Path]:
    """Write the compact checkpoint; split into ``part_bytes`` parts when larger. Returns files."""
    blob = _serialise(
        {
            "format": COMPACT_FORMAT,
            "config": model.config.to_json(),
            "dtype": dtype,
            "metadata": metadata,
            "state": compact_state(model, dtype),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in [path, *path.parent.glob(path.name + ".part*")]:
        stale.unlink(missing_ok=True)
    count = -(-len(blob) // part_bytes)
    files = [path] if count == 1 else _part_paths(path, count)
    for i, file in enumerate(files):
        _atomic_write(file, blob[i * part_bytes : (i + 1) * part_bytes])
    return files


def read_compact(path: Path) -> dict[str, Any]:
    """Reassemble and deserialise a compact checkpoint: format, config (json), dtype, metadata,
    state."""
    blob = b"".join(file.read_bytes() for file in compact_files(path))
    obj = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=False)
    if obj.get("format") != COMPACT_FORMAT:
        raise ValueError(f"{path} is not a compact checkpoint ({obj.get('format')!r})")
    return obj


def load_compact(path: Path) -> tuple[ScreenContentCodec, dict[str, Any]]:
    """A float32 model (on the CPU) and the training metadata from a compact checkpoint."""
    obj = read_compact(path)
    model = ScreenContentCodec(ModelConfig.from_dict(json.loads(obj["config"])))
    load_learned_state(model, {k: v.float() for k, v in obj["state"].items()})
    return model, obj["metadata"]
