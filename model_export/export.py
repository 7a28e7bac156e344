"""Export a ScreenContentCodec to a model directory the serving runtime loads (service/runtime.py).

    checkpoint ──load──► ScreenContentCodec ──update_entropy_tables()──► model_id, EntropyTables
        ──inference copy (GDN's LowerBound autograd.Function -> plain max)──► torch.onnx.export
        ──► analysis.onnx  (x, mask, quality -> y_q, z_q)          EPG + g_a(+g_a,p) + h_a(+h_a,p)
            synthesis.onnx (y_hat_q, z_hat_q, quality -> x_hat)    w = h_w(z^), g_s(+g_s,p)
            [synthesis_fp16.onnx  with --fp16-synthesis: the same graph in float16, fp32 I/O]
        ──quantise h_s, slice mean/scale, LRP──► entropy_parameters.npz  (integer weights)
        ──parity (model_export/parity.py) in a temporary directory──► manifest.json
        ──reference streams (model_export/reference_streams.py)──► reference_q*.scic ──► rename to out

The entropy-parameter networks decide CDF indexes and symbol offsets (the exactness boundary of
ARCHITECTURE.md), so they are not ONNX graphs: they are exported as the integer weights that
``screen_codec.entropy.integer_networks`` runs bit-exactly on any machine, the same arithmetic the
PyTorch reference codes with. Every graph has dynamic batch, height and width, opset 17,
TorchScript-based exporter (``dynamo=False``). The export fails, leaving any previous model
directory untouched, when parity fails.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import logging
import platform
import shutil
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from screen_codec._compressai import compressai_module
from screen_codec.layers import attention as _attention
from screen_codec.codec import PAD_MULTIPLE
from screen_codec.models import ModelConfig, ScreenContentCodec
from screen_codec.entropy.integer_networks import FORMAT as INTEGER_FORMAT
from screen_codec.models.torch_networks import entropy_tables, integer_entropy_parameters, model_id
from service.runtime import sha256_file, tables_digest
from training.provenance import git, package_version

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = "screen_codec.model"
FORMAT_VERSION = 1
OPSET = 17

# How the runtime turns pixels into network input (screen_codec.codec.network_input).
INPUT_NORMALISATION = {
    "x": "RGB, NCHW float32, value / 255 (range [0, 1]), no mean/std",
    "mask": "text mask, N1HW float32 in {0, 1} (1 = text), same H and W as x",
    "pad": f"edge-replicate to multiples of {PAD_MULTIPLE} (bottom/right), cropped after synthesis",
    "quality": "int64 tensor of shape (N,), 1-based quality index",
    "x_hat": "NCHW float32, unclipped; * 255, rounded, clipped to [0, 255]",
}

_GDN = compressai_module("layers").GDN


# ---------------------------------------------------------------- checkpoint loading
@dataclass
class LoadedCheckpoint:
    model: ScreenContentCodec
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    kind: str = "none"  # compact | full | state_dict | none (freshly initialised)
    sha256: list[str] = field(default_factory=list)  # of the checkpoint file(s), as read


def _checkpoint_files(path: Path) -> list[Path]:
    from training.checkpoint import compact_files

    try:
        return compact_files(path)
    except (FileNotFoundError, ValueError):
        return [path]


def load_checkpoint(path: Path) -> LoadedCheckpoint:
    """:func:`read_checkpoint`, with the sha256 of its files taken before and after reading (a
    trainer may replace them meanwhile: then this raises and the export can be retried)."""
    path = Path(path)
    before = [sha256_file(p) for p in _checkpoint_files(path)]
    loaded = read_checkpoint(path)
    after = [sha256_file(p) for p in _checkpoint_files(path)]
    if before != after:
        raise RuntimeError(f"{path} changed while it was read (a trainer saving?); retry the export")
    loaded.sha256 = after
    return loaded


def read_checkpoint(path: Path) -> LoadedCheckpoint:
    """A float32 model from a compact checkpoint (compact.pt or its parts), a full training
    checkpoint (last.pt) or a plain ``{"config": json|dict, "state_dict": ...}`` file."""
    from training import checkpoint as ckpt  # the trainer's reader (strict, tolerant of rANS buffers)

    path = Path(path)
    if ckpt.is_full_checkpoint(path):
        state = ckpt.load_training_state(path)
        model = ScreenContentCodec(ModelConfig.from_dict(json.loads(state["model_config"])))
        ckpt.load_learned_state(model, {k: v.float() for k, v in state["model"].items()})
        metadata = {"step": state.get("step"), "train_config": state.get("train_config", {}).get("name")}
        return LoadedCheckpoint(model, metadata, path, "full")
    try:
        model, metadata = ckpt.load_compact(path)
        return LoadedCheckpoint(model, dict(metadata), path, "compact")
    except (ValueError, FileNotFoundError) as compact_error:
        if not path.is_file():
            raise
        obj = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(obj, dict) or "state_dict" not in obj or "config" not in obj:
            raise ValueError(
                f"{path}: not a compact, full or {{config, state_dict}} checkpoint ({compact_error})"
            ) from None
        config = obj["config"]
        config = json.loads(config) if isinstance(config, str) else config
        model = ScreenContentCodec(ModelConfig.from_dict(config))
        ckpt.load_learned_state(model, {k: v.float() for k, v in obj["state_dict"].items()})
        return LoadedCheckpoint(model, dict(obj.get("metadata", {})), path, "state_dict")


def validation_rd(checkpoint: Path, step: int | None) -> dict[int, dict[str, float]]:
    """Measured RD per quality from the trainer's val.csv beside the checkpoint, at ``step`` (or
    the latest validated step): {quality: {typical_bpp, psnr, text_psnr}}; {} when there is none."""
    val = checkpoint.parent / "val.csv"
    if not val.is_file():
        return {}
    with open(val, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    steps = sorted({int(r["step"]) for r in rows})
    chosen = step if step in steps else steps[-1]
    return {
        int(r["quality"]): {
            "typical_bpp": float(r["bpp"]),
            "psnr": float(r["psnr"]),
            "text_psnr": float(r["text_psnr"]),
            "step": chosen,
        }
        for r in rows
        if int(r["step"]) == chosen
    }


# ---------------------------------------------------------------- export-only modules
class InferenceGDN(nn.Module):
    """GDN / IGDN with its reparametrised beta and gamma precomputed.

    CompressAI's NonNegativeParametrizer bounds them with ``LowerBoundFunction`` (an
    autograd.Function, which the ONNX exporter cannot trace); at inference the bound is a plain
    max, evaluated here once. Same operations, so the same numbers as the training module.
    """

    def __init__(self, gdn: nn.Module) -> None:
        super().__init__()
        self.inverse = bool(gdn.inverse)
        with torch.no_grad():
            beta = gdn.beta_reparam(gdn.beta).detach().clone()
            channels = beta.numel()
            gamma = gdn.gamma_reparam(gdn.gamma).detach().reshape(channels, channels, 1, 1).clone()
        self.register_buffer("beta", beta)
        self.register_buffer("gamma", gamma)

    def forward(self, x: Tensor) -> Tensor:
        norm = F.conv2d(x * x, self.gamma, self.beta)
        return x * (torch.sqrt(norm) if self.inverse else torch.rsqrt(norm))


def inference_copy(model: ScreenContentCodec) -> ScreenContentCodec:
    """A deep copy in eval mode with every GDN replaced by :class:`InferenceGDN`."""
    copied = copy.deepcopy(model).eval()

    def swap(module: nn.Module) -> None:
        for name, child in module.named_children():
            if isinstance(child, _GDN):
                setattr(module, name, InferenceGDN(child))
            else:
                swap(child)

    swap(copied)
    return copied


class AnalysisGraph(nn.Module):
    def __init__(self, model: ScreenContentCodec) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, mask: Tensor, quality: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.analyse(x, mask, quality)


class SynthesisGraph(nn.Module):
    """g_s; with ``half`` the network runs in float16 between float32 inputs and output."""

    def __init__(self, model: ScreenContentCodec, half: bool = False) -> None:
        super().__init__()
        self.model, self.half = model, half

    def forward(self, y_hat_q: Tensor, z_hat_q: Tensor, quality: Tensor) -> Tensor:
        if self.half:
            return self.model.synthesise(y_hat_q.half(), z_hat_q.half(), quality).float()
        return self.model.synthesise(y_hat_q, z_hat_q, quality)


@contextlib.contextmanager
def _half_attention_masks() -> Iterator[None]:
    """Shifted-window masks in float16 while a half model is traced (the library builds them
    in float32, which would promote the attention logits back to float32)."""
    original = _attention._shift_mask
    _attention._shift_mask = lambda *args, **kwargs: original(*args, **kwargs).half()
    try:
        yield
    finally:
        _attention._shift_mask = original


def held_out_rd(reports: Sequence[Path], variant: str) -> list[dict]:
    """The measured held-out RD of ``variant`` from bench/rd.py JSON reports: per report its curve
    (one point per quality, averaged over the images) and its comparisons with the other codecs."""
    entries = []
    for report in reports:
        data = json.loads(Path(report).read_text())
        if variant not in data["curves"]:
            raise ValueError(f"{report} has no variant {variant!r}; it has {sorted(data['curves'])}")
        entries.append({
            "report": str(report),
            "command": data["meta"]["command"],
            "date": data["meta"]["date"],
            "images": [image["name"] for image in data["meta"]["images"]],
            "variant": variant,
            "curve": [
                {k: point[k] for k in ("setting", "bpp", "psnr", "text_psnr")} for point in data["curves"][variant]
            ],
            "comparisons": [c for c in data["comparisons"] if variant in (c["anchor"], c["test"])],
        })
    return entries


def held_out_typical_bpp(reports: Sequence[Path], variant: str) -> dict[int, float]:
    """Per quality, the median bpp of ``variant`` over the distinct held-out screenshots of the
    bench/rd.py reports (images identified by pixel hash, so one shared by two sets counts once):
    what ListModels advertises as a quality's typical rate."""
    per_quality: dict[int, dict[str, float]] = {}
    for report in reports:
        for point in json.loads(Path(report).read_text())["points"]:
            if point["codec"] == variant:
                per_quality.setdefault(int(point["setting"]), {})[point["sha256"]] = float(point["bpp"])
    if not per_quality:
        raise ValueError(f"no points of variant {variant!r} in {[str(r) for r in reports]}")
    return {q: statistics.median(by_image.values()) for q, by_image in sorted(per_quality.items())}


# ---------------------------------------------------------------- graph export
def _spatial(names: Sequence[str], tag: str) -> dict[str, dict[int, str]]:
    return {n: {0: "batch", 2: f"{tag}_height", 3: f"{tag}_width"} for n in names}


def export_graph(
    module: nn.Module,
    args: tuple[Tensor, ...],
    path: Path,
    inputs: Sequence[str],
    outputs: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    """One TorchScript-based ONNX export with the settings every graph shares."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarnings about shape arithmetic (sizes stay dynamic)
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _graph_entry(file: str, inputs: Sequence[str], outputs: Sequence[str], precision: str) -> dict:
    return {"file": file, "inputs": list(inputs), "outputs": list(outputs), "precision": precision}


def export_graphs(model: ScreenContentCodec, out: Path, fp16_synthesis: bool = False) -> dict:
    """Write every ONNX file of ``model`` into ``out``; returns the manifest's ``graphs`` entry."""
    net = inference_copy(model)
    height, width = 2 * PAD_MULTIPLE, 3 * PAD_MULTIPLE  # unequal sides keep H and W distinct
    torch.manual_seed(0)
    x = torch.rand(1, 3, height, width)
    mask = (torch.rand(1, 1, height, width) > 0.5).float()
    quality = torch.tensor([1], dtype=torch.int64)
    with torch.no_grad():
        y, z = net.analyse(x, mask, quality)
        z_hat = torch.round(z)
    graphs: dict[str, Any] = {}

    names = (["x", "mask", "quality"], ["y_q", "z_q"])
    axes = {**_spatial(["x", "mask"], "image"), **_spatial(["y_q"], "latent"), **_spatial(["z_q"], "hyper")}
    axes["quality"] = {0: "batch"}
    export_graph(AnalysisGraph(net), (x, mask, quality), out / "analysis.onnx", *names, axes)
    graphs["analysis"] = _graph_entry("analysis.onnx", *names, "fp32")

    names = (["y_hat_q", "z_hat_q", "quality"], ["x_hat"])
    axes = {**_spatial(["y_hat_q"], "latent"), **_spatial(["z_hat_q"], "hyper"), **_spatial(["x_hat"], "image")}
    axes["quality"] = {0: "batch"}
    y_hat = torch.round(y)
    export_graph(SynthesisGraph(net), (y_hat, z_hat, quality), out / "synthesis.onnx", *names, axes)
    graphs["synthesis"] = _graph_entry("synthesis.onnx", *names, "fp32")
    if fp16_synthesis:
        half = SynthesisGraph(inference_copy(model).half(), half=True)
        with _half_attention_masks():
            export_graph(half, (y_hat, z_hat, quality), out / "synthesis_fp16.onnx", *names, axes)
        graphs["synthesis_fp16"] = _graph_entry("synthesis_fp16.onnx", *names, "fp16")
    return graphs


ENTROPY_PARAMETERS = "entropy_parameters.npz"


def export_entropy_parameters(model: ScreenContentCodec, out: Path) -> dict:
    """Write the integer entropy-parameter path; returns the manifest's entry for it."""
    parameters = integer_entropy_parameters(model)
    np.savez_compressed(out / ENTROPY_PARAMETERS, **parameters.to_arrays())
    return {
        "file": ENTROPY_PARAMETERS,
        "format": INTEGER_FORMAT,
        "networks": sorted(parameters.networks),
        "arithmetic": "fixed point, 12 fraction bits, 14-bit weights with power-of-two channel scales, "
        "table GELU and tanh (screen_codec/entropy/integer_networks.py)",
    }


# ---------------------------------------------------------------- manifest
def detector_entry(name: str) -> dict:
    """The model's default text detector and the packaged file it runs (not copied here)."""
    entry: dict[str, Any] = {"name": name}
    if name == "dbnet":
        from screen_codec.detectors import dbnet

        entry.update(file=dbnet.MODEL_FILE, package=f"rapidocr=={package_version('rapidocr')} (installed --no-deps)")
        try:
            path = dbnet.default_model_path()
            entry["sha256"] = sha256_file(path)
        except Exception as error:  # the wheel is absent on this host: record that, serve with a fallback
            entry["sha256"] = None
            entry["note"] = str(error)
    elif name == "craft":
        raise ValueError("craft needs torch and cannot run in the serving runtime; choose dbnet, morph or none")
    elif name not in ("morph", "none"):
        raise ValueError(f"unknown detector {name!r}")
    else:
        entry["file"] = None  # rule-based / uniform: nothing to package
    return entry


def build_manifest(
    model: ScreenContentCodec,
    graphs: dict,
    entropy_parameters: dict,
    out: Path,
    loaded: LoadedCheckpoint,
    detector: str,
    trained: bool,
    default_quality: int | None,
    validation: dict[int, dict[str, float]],
    held_out: list[dict] | None = None,
    typical_bpp: dict[int, float] | None = None,
) -> dict:
    """The model directory's manifest. A quality's typical_bpp is ``typical_bpp`` (measured on held-out
    screenshots) where given, else the trainer's validation screens' bpp at the checkpoint's step."""
    config = model.config
    tables = entropy_tables(model).to_dict()
    files = {
        p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(out.iterdir())
        if p.is_file() and p.name != MANIFEST
    }
    checkpoint = None
    if loaded.path is not None:
        checkpoint = {
            "path": str(loaded.path),
            "kind": loaded.kind,
            "sha256": loaded.sha256,
            "step": loaded.metadata.get("step"),
            "train_config": loaded.metadata.get("train_config"),
            "git_commit": loaded.metadata.get("git_commit"),
        }
    qualities = [
        {
            "index": q,
            "lambda": lmbda,
            "typical_bpp": typical_bpp[q] if typical_bpp else validation.get(q, {}).get("typical_bpp"),
            "validation": validation.get(q),
        }
        for q, lmbda in enumerate(config.lambdas, start=1)
    ]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": config.name if trained else f"{config.name}-untrained",
        "trained": trained,
        "status": "trained checkpoint" if trained else "UNTRAINED placeholder (seeded init): do not judge quality",
        "config": json.loads(config.to_json()),
        "model_id": model_id(model).hex(),
        "checkpoint": checkpoint,
        "qualities": qualities,
        "held_out_rd": held_out,
        "default_quality": default_quality or (config.num_qualities + 1) // 2,
        "graphs": graphs,
        "entropy_parameters": entropy_parameters,
        "files": files,
        "entropy_tables": tables,
        "entropy_tables_sha256": tables_digest(tables),
        "entropy_coder": "compressai.ans (rANS, 16-bit CDFs, escape-coded tails)",
        "input": INPUT_NORMALISATION,
        "pad_multiple": PAD_MULTIPLE,
        "text_detector": detector_entry(detector),
        "exported_with": {
            "torch": torch.__version__,
            "onnx": package_version("onnx"),
            # the GPU wheel installs the same module under its own distribution name
            "onnxruntime": next(
                (v for p in ("onnxruntime-gpu", "onnxruntime") if (v := package_version(p)) != "absent"), "absent"
            ),
            "compressai": package_version("compressai"),
            "python": platform.python_version(),
            "opset": OPSET,
            "exporter": "torch.onnx.export(dynamo=False)",
            "git_commit": git("rev-parse", "HEAD"),
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }


def write_manifest(out: Path, manifest: dict) -> None:
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


# ---------------------------------------------------------------- the whole export
def _replace_model_dir(staging: Path, out: Path) -> None:
    """Move the checked export into place; only an empty directory or an earlier model directory
    (one with a manifest) is ever replaced."""
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file()):
            raise FileExistsError(f"{out} exists and is not a model directory; not replacing it")
        old = out.with_name(f".{out.name}.old")
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old)
    else:
        staging.rename(out)


def export_model(
    model: ScreenContentCodec,
    out: Path,
    *,
    loaded: LoadedCheckpoint | None = None,
    detector: str = "dbnet",
    fp16_synthesis: bool = False,
    trained: bool = True,
    default_quality: int | None = None,
    validation: dict[int, dict[str, float]] | None = None,
    held_out: list[dict] | None = None,
    typical_bpp: dict[int, float] | None = None,
    parity_images: Sequence[str] = ("random", "page", "screenshot"),
    parity_size: int = 256,
) -> dict:
    """Export ``model`` to the directory ``out`` (replaced only when parity passes); returns the
    manifest. Raises parity.ParityError when ONNX Runtime and PyTorch disagree."""
    from . import parity, reference_streams

    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise FileExistsError(f"{out} exists and is not a model directory; not replacing it")
    model = model.eval()
    model.update_entropy_tables()
    loaded = loaded or LoadedCheckpoint(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        start = time.perf_counter()
        graphs = export_graphs(model, staging, fp16_synthesis)
        log.info("exported %d graphs in %.1f s", len(list(staging.glob("*.onnx"))), time.perf_counter() - start)
        entropy_parameters = export_entropy_parameters(model, staging)
        manifest = build_manifest(
            model, graphs, entropy_parameters, staging, loaded, detector, trained, default_quality, validation or {},
            held_out, typical_bpp,
        )
        write_manifest(staging, manifest)
        start = time.perf_counter()
        report = parity.check(model, staging, images=parity_images, size=parity_size)
        log.info("parity passed in %.1f s", time.perf_counter() - start)
        manifest["parity"] = report
        write_manifest(staging, manifest)  # the manifest is not among the hashed files
        manifest = reference_streams.add(staging)
        _replace_model_dir(staging, out)
        return manifest
    finally:
        if staging.exists():
            shutil.rmtree(staging)
