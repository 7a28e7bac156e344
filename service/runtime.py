"""The serving runtime: an exported model directory (model_export) run with ONNX Runtime, no torch.

    model_dir/manifest.json ──sha256 of every file──► ORT sessions (analysis, synthesis: the chosen
        providers) + the integer entropy-parameter path (entropy_parameters.npz, numpy, exact on
        any machine) ──reference streams decode to their recorded latents──► ready (the server
        then warms every quality level up: service.models.warm_up)

    encode: RGB uint8 ──text mask (detector | client mask | ones)──► screen_codec.codec.encode_image
            (driving OnnxNetworks / TimedEntropyParameters below) ──► bitstream
    decode: bitstream ──► screen_codec.codec.decode_image ──► RGB uint8

The coding loop is the shared, torch-free one in ``screen_codec.codec`` and
``screen_codec.entropy.latent_coder``; this module only puts ONNX Runtime sessions behind its two
protocols, so a stream made here decodes in the PyTorch reference and the reverse
(tests/test_runtime.py). It must never import torch (also tested).

Thread safety: ``encode`` and ``decode`` may run concurrently; ORT sessions are safe to call from
several threads, every request gets its own timing accumulator, and detectors are built once
under a lock. Details and measurements: docs/RUNTIME.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnxruntime as ort
import threadpoolctl

from screen_codec import codec, detectors, reference_streams
from screen_codec.bitstream import CorruptBitstreamError
from screen_codec.entropy.integer_networks import IntegerEntropyParameters
from screen_codec.entropy.latent_coder import RATE_AWARE_ROUNDING_BITS, EntropyTables

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = "screen_codec.model"
SUPPORTED_FORMAT_VERSIONS = (1,)
TILE_SIZE_ENV = "SCREENCODEC_TILE_SIZE"  # overrides RuntimeOptions.tile_size when load() isn't given one
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
# Detectors the serving world can run (craft needs torch).
SERVING_DETECTORS = tuple(name for name in detectors.DETECTOR_NAMES if name != "craft")
_OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


class ModelDirectoryError(RuntimeError):
    """The model directory is missing, incomplete, of an unknown format, fails its hashes, or its
    reference streams do not decode on this host."""


@dataclass(frozen=True)
class QualityLevel:
    index: int
    lmbda: float
    typical_bpp: float | None


@dataclass
class EncodeResult:
    bitstream: bytes
    width: int
    height: int
    bpp: float
    timings_ms: dict[str, float]


@dataclass
class DecodeResult:
    rgb: np.ndarray
    timings_ms: dict[str, float]


@dataclass(frozen=True)
class RuntimeOptions:
    """How sessions are built (docs/RUNTIME.md, "Provider selection")."""

    providers: tuple[str, ...] | None = None  # None: CUDA if it really loads, else CPU
    intra_op_threads: int = 0  # 0: ORT's choice (one per core)
    graph_optimization: str = "all"  # analysis/synthesis graphs: disable | basic | extended | all
    # BLAS threads of the integer entropy-parameter path (process-wide, via threadpoolctl). One per
    # request: concurrent requests already fill the cores, and on a loaded host extra BLAS threads
    # can run far slower (thread wake-ups); on an idle 2-core host two took 0.82 s where one took
    # 1.14 s (docs/SERVICE.md). The result never depends on it.
    entropy_threads: int = 1
    spinning: bool = False  # ORT intra-op threads busy-wait between runs (see _session_options)
    cpu_arena: bool = True  # ORT's CPU memory arena (faster; keeps peak memory reserved)
    cuda_arena_strategy: str = "kSameAsRequested"  # or kNextPowerOfTwo
    precision: str = "auto"  # synthesis graph: auto (fp16 on CUDA when exported) | fp32 | fp16
    # Images with a side above this are coded in tiles of this size (0: never). 2048 keeps 1080p
    # whole (peak RSS ~1.5 GB at 2 threads) and caps 4K at ~2.8 GB; 1024 caps 4K at ~0.9 GB.
    tile_size: int = 2048
    # The encoder's rate-aware rounding (screen_codec.entropy.latent_coder.round_residuals): a symbol
    # steps toward its mean where that saves more bits than this; inf = nearest integers. Streams
    # decode the same either way.
    rounding_threshold_bits: float = RATE_AWARE_ROUNDING_BITS
    # Decode the reference streams at load and refuse the model when the latents differ (off only
    # while exporting, before the streams exist).
    check_reference_streams: bool = True


# ---------------------------------------------------------------- model directory
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tables_digest(tables: dict) -> str:
    """sha256 of the entropy tables' canonical JSON (the manifest carries them inline)."""
    return hashlib.sha256(json.dumps(tables, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read_manifest(model_dir: Path) -> dict:
    """Parse and verify ``model_dir/manifest.json``: format, every listed file's sha256 and size,
    and the entropy tables' digest. Raises :class:`ModelDirectoryError` with the reason."""
    path = Path(model_dir) / MANIFEST
    if not path.is_file():
        raise ModelDirectoryError(f"{model_dir} is not a model directory: {MANIFEST} is missing")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ModelDirectoryError(f"{path} is unreadable: {error}") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") not in SUPPORTED_FORMAT_VERSIONS:
        raise ModelDirectoryError(
            f"{path}: format {manifest.get('format')!r} v{manifest.get('format_version')} is not "
            f"{FORMAT} v{SUPPORTED_FORMAT_VERSIONS}"
        )
    for name, expected in manifest["files"].items():
        file = Path(model_dir) / name
        if not file.is_file():
            raise ModelDirectoryError(f"{model_dir}: {name} is listed in the manifest but missing")
        actual = sha256_file(file)
        if actual != expected["sha256"]:
            raise ModelDirectoryError(
                f"{model_dir}: sha256 of {name} is {actual}, the manifest says {expected['sha256']}: "
                "the file was modified or corrupted; re-export the model (python -m model_export)"
            )
    if tables_digest(manifest["entropy_tables"]) != manifest.get("entropy_tables_sha256"):
        raise ModelDirectoryError(f"{path}: the entropy tables do not match their sha256")
    return manifest


# ---------------------------------------------------------------- sessions
def _session_options(options: RuntimeOptions) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.intra_op_num_threads = options.intra_op_threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        so.graph_optimization_level = _OPT_LEVELS[options.graph_optimization]
    except KeyError:
        raise ValueError(f"graph optimisation level must be one of {sorted(_OPT_LEVELS)}, not {options.graph_optimization!r}") from None
    so.enable_cpu_mem_arena = options.cpu_arena
    so.enable_mem_pattern = False  # shapes change with every image size
    so.log_severity_level = 3
    # ORT's idle intra-op threads spin after each run by default; here the integer entropy path
    # runs right after analysis on the same cores, and spinning threads would take them from it.
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if options.spinning else "0")
    return so


def _provider_list(providers: Sequence[str], options: RuntimeOptions) -> list:
    out: list = []
    for name in providers:
        if name == CUDA:
            out.append(
                (
                    CUDA,
                    {
                        "arena_extend_strategy": options.cuda_arena_strategy,
                        "cudnn_conv_algo_search": "HEURISTIC",  # EXHAUSTIVE re-tunes for every new size
                    },
                )
            )
        else:
            out.append(name)
    return out


def _open_session(path: Path, providers: Sequence[str], options: RuntimeOptions) -> ort.InferenceSession:
    return ort.InferenceSession(
        str(path), sess_options=_session_options(options), providers=_provider_list(providers, options)
    )


def _default_providers(available: Sequence[str]) -> tuple[str, ...]:
    return (CUDA, CPU) if CUDA in available else (CPU,)


class _Session:
    """An ORT session with named inputs (from the manifest's graph entry)."""

    def __init__(self, session: ort.InferenceSession, entry: dict) -> None:
        self.session = session
        self.inputs: list[str] = entry["inputs"]
        self.outputs: list[str] = entry["outputs"]

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        if len(arrays) != len(self.inputs):
            raise ValueError(f"graph takes {len(self.inputs)} inputs ({self.inputs}), got {len(arrays)}")
        return self.session.run(self.outputs, dict(zip(self.inputs, arrays)))


def _quality(quality: int) -> np.ndarray:
    return np.array([quality], dtype=np.int64)


# ---------------------------------------------------------------- the two protocols
@dataclass
class _Timer:
    """Per-request stage times in seconds."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, start: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

    def ms(self, stage: str) -> float:
        return self.seconds.get(stage, 0.0) * 1e3


class TimedEntropyParameters:
    """The integer entropy-parameter path, its time added to a request's "hyper" stage."""

    def __init__(self, parameters: IntegerEntropyParameters, timer: _Timer | None = None) -> None:
        self.parameters = parameters
        self.num_slices = parameters.num_slices
        self.timer = timer or _Timer()

    def with_timer(self, timer: _Timer) -> "TimedEntropyParameters":
        return TimedEntropyParameters(self.parameters, timer)

    def hyper(self, z_hat: np.ndarray, quality: int) -> tuple[np.ndarray, np.ndarray]:
        start = time.perf_counter()
        means, scales = self.parameters.hyper(z_hat, quality)
        self.timer.add("hyper", start)
        return means, scales

    def slice_moments(
        self, k: int, means: np.ndarray, scales: np.ndarray, support: Sequence[np.ndarray], quality: int
    ) -> tuple[np.ndarray, np.ndarray]:
        start = time.perf_counter()
        mean, scale = self.parameters.slice_moments(k, means, scales, support, quality)
        self.timer.add("hyper", start)
        return mean, scale

    def refine(
        self, k: int, means: np.ndarray, support: Sequence[np.ndarray], y_hat: np.ndarray
    ) -> np.ndarray:
        start = time.perf_counter()
        refined = self.parameters.refine(k, means, support, y_hat)
        self.timer.add("hyper", start)
        return refined


class OnnxNetworks:
    """``codec.CodecNetworks`` over the analysis and synthesis sessions; one per request (it
    carries that request's timer), all sharing the sessions."""

    def __init__(
        self,
        model_id: bytes,
        num_qualities: int,
        tables: EntropyTables,
        analysis: _Session,
        synthesis: _Session,
        entropy: TimedEntropyParameters,
        timer: _Timer | None = None,
    ) -> None:
        self.model_id, self.num_qualities, self.tables = model_id, num_qualities, tables
        self._analysis, self._synthesis = analysis, synthesis
        self.timer = timer or _Timer()
        self.entropy = entropy.with_timer(self.timer)

    def for_request(self) -> "OnnxNetworks":
        return OnnxNetworks(
            self.model_id, self.num_qualities, self.tables, self._analysis, self._synthesis, self.entropy, _Timer()
        )

    def analyse(self, x: np.ndarray, mask: np.ndarray, quality: int) -> tuple[np.ndarray, np.ndarray]:
        start = time.perf_counter()
        y_q, z_q = self._analysis(x, mask, _quality(quality))
        self.timer.add("analysis", start)
        return y_q, z_q

    def synthesise(self, y_hat: np.ndarray, z_hat: np.ndarray, quality: int) -> np.ndarray:
        start = time.perf_counter()
        (x_hat,) = self._synthesis(y_hat, z_hat, _quality(quality))
        self.timer.add("synthesis", start)
        if not np.isfinite(x_hat).all():
            # A derailed rANS decoder (wrong CDF indexes) yields absurd latents; never return them
            # as an image. Seen with float entropy parameters, before the integer path.
            raise CorruptBitstreamError(
                "decoded latents give a non-finite image: the stream does not decode with this model's "
                "entropy-parameter arithmetic (see docs/RUNTIME.md, Exactness)"
            )
        return x_hat


# ---------------------------------------------------------------- the runtime
class CodecRuntime:
    """One exported model served with ONNX Runtime (the interface service/models.py relies on)."""

    def __init__(self, model_dir: Path, manifest: dict, options: RuntimeOptions) -> None:
        self.model_dir = Path(model_dir)
        self.manifest = manifest
        self.options = options
        self.name: str = manifest["name"]
        self.model_id: str = manifest["model_id"]
        self.qualities = [
            QualityLevel(q["index"], float(q["lambda"]), q.get("typical_bpp")) for q in manifest["qualities"]
        ]
        self.default_quality: int = int(manifest["default_quality"])
        self.tile_size = options.tile_size
        if self.tile_size % codec.PAD_MULTIPLE:
            raise ValueError(f"tile_size must be a multiple of {codec.PAD_MULTIPLE}, got {self.tile_size}")
        if not options.rounding_threshold_bits > 0:
            raise ValueError(f"rounding_threshold_bits must be positive or inf, got {options.rounding_threshold_bits}")
        graphs = manifest["graphs"]

        if options.providers:
            analysis = self._open(graphs["analysis"], options.providers)
        else:
            analysis = self._open_quietly(graphs["analysis"], _default_providers(ort.get_available_providers()))
        # The providers that really loaded (a CUDA request falls back to CPU when CUDA's libraries
        # are missing; get_available_providers() lists CUDA regardless).
        self.providers: list[str] = analysis.session.get_providers()
        on_cuda = self.providers[0] == CUDA
        synthesis_entry = graphs["synthesis"]
        if "synthesis_fp16" in graphs and (options.precision == "fp16" or (options.precision == "auto" and on_cuda)):
            synthesis_entry = graphs["synthesis_fp16"]
        elif options.precision == "fp16":
            raise ValueError(f"{model_dir} has no fp16 synthesis graph (export with --fp16-synthesis)")
        self.synthesis_precision: str = synthesis_entry["precision"]
        synthesis = self._open(synthesis_entry, self.providers)
        threadpoolctl.threadpool_limits(options.entropy_threads, user_api="blas")
        with np.load(self.model_dir / manifest["entropy_parameters"]["file"], allow_pickle=False) as arrays:
            entropy = IntegerEntropyParameters.from_arrays(arrays)

        self._networks = OnnxNetworks(
            bytes.fromhex(self.model_id),
            len(self.qualities),
            EntropyTables.from_dict(manifest["entropy_tables"]),
            analysis,
            synthesis,
            TimedEntropyParameters(entropy),
        )
        self._detectors: dict[str, detectors.TextDetector] = {}
        self._detector_lock = threading.Lock()
        self.detectors: tuple[str, ...] = self._available_detectors()
        wanted = manifest.get("text_detector", {}).get("name", "none")
        self.default_detector = wanted if wanted in self.detectors else "morph"
        if self.default_detector != wanted:
            log.warning("model %s asks for the %r text detector, which is not installed here; using %r",
                        self.name, wanted, self.default_detector)
        if options.check_reference_streams:
            self._check_reference_streams()

    # -- loading
    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        providers: Sequence[str] | None = None,
        intra_op_threads: int = 0,
        **options: Any,
    ) -> "CodecRuntime":
        """Verify and load ``model_dir``; options are the fields of :class:`RuntimeOptions`."""
        manifest = read_manifest(Path(model_dir))
        if "tile_size" not in options and os.environ.get(TILE_SIZE_ENV):
            options["tile_size"] = int(os.environ[TILE_SIZE_ENV])
        opts = RuntimeOptions(
            providers=tuple(providers) if providers else None, intra_op_threads=intra_op_threads, **options
        )
        start = time.perf_counter()
        runtime = cls(Path(model_dir), manifest, opts)
        log.info(
            "loaded model %s (%s) from %s on %s in %.2f s", runtime.name, runtime.model_id, model_dir,
            runtime.providers[0], time.perf_counter() - start,
        )
        return runtime

    def _open(self, entry: dict, providers: Sequence[str]) -> _Session:
        return _Session(_open_session(self.model_dir / entry["file"], providers, self.options), entry)

    def _open_quietly(self, entry: dict, providers: Sequence[str]) -> _Session:
        """Open with the default providers: CUDA is tried whenever the wheel lists it (onnxruntime-gpu
        lists it even without a GPU) and falls back to CPU; ORT's error log about the missing CUDA
        libraries is silenced for that probe only (default logger back at its default, warning)."""
        if CUDA not in providers:
            return self._open(entry, providers)
        ort.set_default_logger_severity(4)
        try:
            return self._open(entry, providers)
        finally:
            ort.set_default_logger_severity(2)

    def _available_detectors(self) -> tuple[str, ...]:
        names = []
        for name in SERVING_DETECTORS:
            if name == "dbnet":
                try:
                    from screen_codec.detectors.dbnet import default_model_path

                    default_model_path()
                except detectors.DetectorUnavailableError:
                    continue
            names.append(name)
        return tuple(names)

    def _detector(self, name: str) -> detectors.TextDetector:
        with self._detector_lock:
            if name not in self._detectors:
                options: dict[str, Any] = {}
                if name == "dbnet":
                    options = {"providers": tuple(p for p in self.providers if p in (CUDA, CPU))}
                    if self.options.intra_op_threads:
                        options["intra_op_threads"] = self.options.intra_op_threads
                self._detectors[name] = detectors.get_detector(name, **options)
            return self._detectors[name]

    def _check_reference_streams(self) -> None:
        """Refuse to serve where this host's entropy decoding differs from the exporting host's:
        streams from the other replicas would not decode here (screen_codec.reference_streams)."""
        spec = self.manifest.get("reference_streams")
        if spec is None:
            log.warning("model %s has no reference streams: decoding across hosts is unchecked (re-export it)",
                        self.name)
            return
        try:
            reference_streams.verify(self._networks.for_request(), self.model_dir, spec["streams"])
        except reference_streams.ReferenceStreamError as error:
            raise ModelDirectoryError(
                f"{self.model_dir}: this host does not decode the model's reference streams to the latents "
                f"recorded at export ({error}); streams of other replicas would not decode here "
                "(docs/RUNTIME.md, Reference streams)"
            ) from None

    # -- requests
    def text_mask(self, rgb: np.ndarray, text_mask: str | np.ndarray | None) -> np.ndarray:
        """HxW uint8 {0,1} mask: a detector's (by name; None = the model's default), or the
        client's (nonzero = text)."""
        if text_mask is None or isinstance(text_mask, str):
            name = self.default_detector if text_mask is None else text_mask
            if name not in self.detectors:
                raise ValueError(f"unknown text detector {name!r}; this runtime has {', '.join(self.detectors)}")
            return self._detector(name).detect(rgb)
        mask = np.asarray(text_mask)
        if mask.shape != rgb.shape[:2]:
            raise ValueError(f"text mask shape {mask.shape} does not match image {rgb.shape[:2]}")
        if mask.dtype != np.uint8 and mask.dtype != np.bool_:
            raise ValueError(f"text mask must be uint8 or bool, got {mask.dtype}")
        return (mask != 0).astype(np.uint8)

    def encode(self, rgb: np.ndarray, quality: int, text_mask: str | np.ndarray | None = None) -> EncodeResult:
        """RGB uint8 (H, W, 3) -> bitstream. ValueError for a bad image, quality or mask."""
        start = time.perf_counter()
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("expected an HxWx3 uint8 RGB image")
        if not any(q.index == quality for q in self.qualities):
            raise ValueError(f"quality must be in 1..{len(self.qualities)}, got {quality}")
        rgb = np.ascontiguousarray(rgb)
        mask = self.text_mask(rgb, text_mask)
        detected = time.perf_counter()
        height, width = rgb.shape[:2]
        tile = self.tile_size if self.tile_size and max(height, width) > self.tile_size else 0
        nets = self._networks.for_request()
        data = codec.encode_image(nets, rgb, mask, quality, tile, self.options.rounding_threshold_bits)
        end = time.perf_counter()
        timer = nets.timer
        timings = {
            "detect": (detected - start) * 1e3,
            "analysis": timer.ms("analysis"),
            "hyper": timer.ms("hyper"),  # hyper-synthesis + slice mean/scale + LRP networks
            "entropy": (end - detected) * 1e3 - timer.ms("analysis") - timer.ms("hyper"),  # rANS, packing
        }
        return EncodeResult(data, width, height, len(data) * 8 / (width * height), timings)

    def decode(self, bitstream: bytes) -> DecodeResult:
        """Bitstream -> RGB uint8. Raises a screen_codec.bitstream.BitstreamError on bad input
        (ForeignModelError for another model's stream, CorruptBitstreamError, ...)."""
        start = time.perf_counter()
        nets = self._networks.for_request()
        rgb = codec.decode_image(nets, bytes(bitstream))
        total = (time.perf_counter() - start) * 1e3
        timer = nets.timer
        timings = {
            "entropy": total - timer.ms("hyper") - timer.ms("synthesis"),
            "hyper": timer.ms("hyper"),
            "synthesis": timer.ms("synthesis"),
        }
        return DecodeResult(rgb, timings)

    # -- for parity checks, tools and benchmarks
    @property
    def networks(self) -> OnnxNetworks:
        """A fresh ``codec.CodecNetworks`` over this runtime's sessions."""
        return self._networks.for_request()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model_id": self.model_id,
            "providers": self.providers,
            "entropy_parameters": self.manifest["entropy_parameters"]["format"],
            "synthesis_precision": self.synthesis_precision,
            "detectors": list(self.detectors),
            "default_detector": self.default_detector,
            "tile_size": self.tile_size,
            "rounding_threshold_bits": self.options.rounding_threshold_bits,
            "trained": self.manifest.get("trained"),
        }
