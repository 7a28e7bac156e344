"""Integer-exact entropy parameters: h_s, the slice mean/scale nets and LRP in fixed point.

Why: the float32 networks compute the same function to ~1e-6 on different kernels (PyTorch vs
ONNX Runtime, CPU vs GPU, AVX2 vs AVX-512). A scale that lands on the other side of a scale-table
boundary selects another CDF and the rANS decoder derails (measured before this module: 13 index
flips in 2.98M symbols between PyTorch and ONNX Runtime on one host). Following Ballé, Johnston &
Minnen, "Integer Networks for Data Compression with Latent-Variable Models" (ICLR 2019), the
entropy-parameter networks run in integer arithmetic; the trained float networks are quantised
after training (post-training quantisation, cf. Koyuncu et al., "Device Interoperability for
Learned Image Compression with Weights and Activations Quantization", PCS 2022) with enough bits
that the rate cost is negligible (docs/MODEL.md, "Integer entropy parameters").

Fixed-point format (one for every activation, so tables and shifts are shared)::

    activation  a = A / 2^F                 A integer, clipped to |A| <= 2^24, F = 12
    weight      w[o, i] = W[o, i] / 2^e_o   |W| <= 2^14, a power-of-two scale per output channel
    bias        b_o = B_o / 2^(F + e_o)
    conv        ACC_o = sum_i W[o, i] A_i + B_o                       exact: |ACC| < 2^53
                A'_o  = clip(floor(ACC_o 2^-e_o + 1/2))               an exact power-of-two scale
    GELU, 0.5 tanh: lookup tables on the A grid, built with IEEE + - * / only

The integers are carried in float64 arrays so the convolutions are BLAS matrix products: every
product (< 2^38) and partial sum (< 2^53) of such integers is exact in float64, so the result is
the same integer for any summation order, blocking, FMA use, thread count or CPU. Transcendental
functions (exp, erf, tanh) are never called from a math library, whose last bit may differ
between platforms; the tables below are built from their series with basic operations.

Data flow (the ``latent_coder.EntropyParameters`` protocol)::

    z^_q ──× ihgain_q, to fixed point──► hyper_means, hyper_scales ──► (means, scales)
    [means,  y^_<k] ──mean_k──► mu_k        [scales, y^_<k] ──scale_k──► sigma_k
    [means, y^_<k, y^_k] ──lrp_k──► y^_k + 0.5 tanh(.)

A quality-equivariant model (``entropy.slices``) also ships its gains: y^_<k is multiplied by 1/g_q
before the fixed-point conversion and mu_k, sigma_k by g_q after it, in float64 with g_q = exp(log
g_q) from the series below, so those products too are the same IEEE operations everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

FRACTION_BITS = 12
ONE = float(1 << FRACTION_BITS)
ACTIVATION_LIMIT = float(1 << 24)
WEIGHT_LIMIT = 1 << 14
EXACT_LIMIT = float(1 << 53)
FORMAT = "integer-v1"  # part of the model id: streams coded with other arithmetic are foreign
_GELU_RANGE = 6 * (1 << FRACTION_BITS)  # GELU(a) rounds to a above +6 and to 0 below -6
_TANH_RANGE = 5 * (1 << FRACTION_BITS)  # 0.5 tanh(a) rounds to +-0.5 beyond +-5


# ---------------------------------------------------------------- deterministic functions
def _exp(x: np.ndarray) -> np.ndarray:
    """exp with IEEE + * / only: exp(x) = (taylor(x / 2^16))^(2^16)."""
    r = np.asarray(x, np.float64) / 65536.0
    term = np.ones_like(r)
    total = np.ones_like(r)
    for n in range(1, 10):
        term = term * r / n
        total = total + term
    for _ in range(16):
        total = total * total
    return total


def _erf(x: np.ndarray) -> np.ndarray:
    """erf by its Maclaurin series (|x| <= 4.3 here; absolute error ~1e-8)."""
    x = np.asarray(x, np.float64)
    x2 = x * x
    term = x.copy()
    total = x.copy()
    for n in range(1, 140):
        term = term * (-x2) / n
        total = total + term / (2 * n + 1)
    return total * 1.1283791670955126  # 2 / sqrt(pi)


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(x + 0.5)


def _gelu_table() -> np.ndarray:
    a = np.arange(-_GELU_RANGE, _GELU_RANGE + 1, dtype=np.float64) / ONE
    return _round_half_up(ONE * a * 0.5 * (1.0 + _erf(a * 0.7071067811865476)))


def _half_tanh_table() -> np.ndarray:
    a = np.abs(np.arange(-_TANH_RANGE, _TANH_RANGE + 1, dtype=np.float64) / ONE)
    e = _exp(2.0 * a)
    half_tanh = 0.5 * (e - 1.0) / (e + 1.0)
    signs = np.sign(np.arange(-_TANH_RANGE, _TANH_RANGE + 1))
    return signs * _round_half_up(ONE * half_tanh)


GELU_TABLE = _gelu_table()
HALF_TANH_TABLE = _half_tanh_table()
assert GELU_TABLE[-1] == _GELU_RANGE and GELU_TABLE[0] == 0.0
assert HALF_TANH_TABLE[-1] == ONE / 2 and HALF_TANH_TABLE[0] == -ONE / 2


def _lookup(table: np.ndarray, a: np.ndarray, half_width: int) -> np.ndarray:
    """table[a] for a table over [-half_width, half_width]; a outside reads the end entries."""
    index = np.clip(a, -half_width, half_width)
    index += half_width
    return table[index.astype(np.intp)]


def gelu(a: np.ndarray) -> np.ndarray:
    """GELU on fixed-point integers (erf form, as torch.nn.GELU())."""
    out = _lookup(GELU_TABLE, a, _GELU_RANGE)
    np.copyto(out, a, where=a > _GELU_RANGE)  # GELU(a) = a above the table
    return out


def half_tanh(a: np.ndarray) -> np.ndarray:
    """0.5 tanh on fixed-point integers (saturates at +-1/2: the end entries)."""
    return _lookup(HALF_TANH_TABLE, a, _TANH_RANGE)


def to_fixed(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Real values -> fixed-point integers (float64), rounded half up and clipped."""
    out = np.multiply(x, ONE, out=out, dtype=np.float64)
    out += 0.5
    np.floor(out, out=out)
    return np.clip(out, -ACTIVATION_LIMIT, ACTIVATION_LIMIT, out=out)


def from_fixed(a: np.ndarray) -> np.ndarray:
    """Fixed-point integers -> float32 values (exact: |A| <= 2^24)."""
    return (a / ONE).astype(np.float32)


# ---------------------------------------------------------------- layers
@dataclass(frozen=True, eq=False)
class IntegerConv3x3:
    """3x3 convolution, stride 1, zero padding 1, on fixed-point activations.

    Computed tap by tap on the padded grid: one matrix product gives all nine taps' responses
    at every padded position, ``P = W_taps (9 O, C) @ A_pad (C, (H+2)(W+2))``, and the output
    is the sum of the nine shifted views of P. That moves 9 O values per position where im2col
    moves 9 C (the slice nets narrow from 288 input channels to 48).
    """

    taps: np.ndarray  # (9 O, C) float64 integers, rows ordered (ky, kx, o)
    bias: np.ndarray  # (O,) float64 integers, in units of 2^-(F + e_o)
    scale: np.ndarray  # (O,) 2^-e_o

    @property
    def _rounding_bias(self) -> np.ndarray:
        """B + 2^(e-1): floor((ACC + 2^(e-1)) 2^-e) = floor(ACC 2^-e + 1/2), one pass fewer."""
        return self.bias + 0.5 / self.scale

    @classmethod
    def quantize(cls, weight: np.ndarray, bias: np.ndarray) -> "IntegerConv3x3":
        """From a float (O, C, 3, 3) weight and (O,) bias: the largest power-of-two scale per
        output channel that keeps |W| <= 2^14."""
        weight = np.asarray(weight, np.float64)
        if weight.ndim != 4 or weight.shape[2:] != (3, 3):
            raise ValueError(f"expected a (O, C, 3, 3) weight, got {weight.shape}")
        peak = np.maximum(np.abs(weight).reshape(len(weight), -1).max(axis=1), 1e-30)
        exponent = np.floor(np.log2(WEIGHT_LIMIT / peak))
        return cls.from_integers(
            np.rint(weight * np.exp2(exponent)[:, None, None, None]),
            np.rint(np.asarray(bias, np.float64) * np.exp2(exponent + FRACTION_BITS)),
            exponent,
        )

    @classmethod
    def from_integers(cls, weight: np.ndarray, bias: np.ndarray, exponent: np.ndarray) -> "IntegerConv3x3":
        """From the stored integers: W (O, C, 3, 3), B (O,), e (O,)."""
        out_ch, in_ch = weight.shape[:2]
        if np.abs(weight).max() > WEIGHT_LIMIT:
            raise ValueError("integer weights exceed 2^14")
        worst = 9 * in_ch * WEIGHT_LIMIT * ACTIVATION_LIMIT + np.abs(bias).max()
        if worst >= EXACT_LIMIT:
            raise ValueError(f"a {in_ch}-channel 3x3 conv can overflow float64's exact integers")
        taps = np.asarray(weight, np.float64).transpose(2, 3, 0, 1).reshape(9 * out_ch, in_ch)
        return cls(np.ascontiguousarray(taps), np.asarray(bias, np.float64),
                   np.exp2(-np.asarray(exponent, np.float64)))

    def integers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(W (O, C, 3, 3) int16, B (O,) int64, e (O,) int8): the stored form."""
        out_ch = len(self.bias)
        weight = self.taps.reshape(3, 3, out_ch, -1).transpose(2, 3, 0, 1)
        return weight.astype(np.int16), self.bias.astype(np.int64), (-np.log2(self.scale)).astype(np.int8)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        """(C, H, W) fixed-point integers -> (O, H, W)."""
        channels, height, width = a.shape
        out_ch = len(self.bias)
        padded = np.zeros((channels, height + 2, width + 2))
        padded[:, 1:-1, 1:-1] = a
        responses = (self.taps @ padded.reshape(channels, -1)).reshape(3, 3, out_ch, height + 2, width + 2)
        acc = responses[0, 0, :, :height, :width] + self._rounding_bias[:, None, None]
        for ky in range(3):
            for kx in range(3):
                if ky or kx:
                    acc += responses[ky, kx, :, ky : ky + height, kx : kx + width]
        acc *= self.scale[:, None, None]
        np.floor(acc, out=acc)
        return np.clip(acc, -ACTIVATION_LIMIT, ACTIVATION_LIMIT, out=acc)


def pixel_shuffle(a: np.ndarray, factor: int) -> np.ndarray:
    """(C r^2, H, W) -> (C, H r, W r), the channel order of torch.nn.PixelShuffle."""
    channels, height, width = a.shape
    c = channels // (factor * factor)
    return a.reshape(c, factor, factor, height, width).transpose(0, 3, 1, 4, 2).reshape(
        c, height * factor, width * factor
    )


# ---------------------------------------------------------------- networks
# A network is a program: ("conv", IntegerConv3x3) | ("gelu", None) | ("shuffle", factor).
Step = tuple[str, object]


class IntegerNetwork:
    """A sequential program of integer convs, GELUs and pixel shuffles."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        for op, arg in self.steps:
            if op == "conv":
                a = arg(a)  # type: ignore[operator]
            elif op == "gelu":
                a = gelu(a)
            elif op == "shuffle":
                a = pixel_shuffle(a, int(arg))  # type: ignore[arg-type]
            else:
                raise ValueError(f"unknown integer-network op {op!r}")
        return a

    def to_arrays(self, name: str) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        program = []
        for i, (op, arg) in enumerate(self.steps):
            if op == "conv":
                weight, bias, exponent = arg.integers()  # type: ignore[union-attr]
                arrays |= {f"{name}.{i}.weight": weight, f"{name}.{i}.bias": bias, f"{name}.{i}.exponent": exponent}
                program.append("conv")
            elif op == "shuffle":
                program.append(f"shuffle{arg}")
            else:
                program.append(op)
        arrays[f"{name}.program"] = np.array(program)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], name: str) -> "IntegerNetwork":
        steps: list[Step] = []
        for i, op in enumerate(str(s) for s in arrays[f"{name}.program"]):
            if op == "conv":
                conv = IntegerConv3x3.from_integers(
                    arrays[f"{name}.{i}.weight"], arrays[f"{name}.{i}.bias"], arrays[f"{name}.{i}.exponent"]
                )
                steps.append(("conv", conv))
            elif op.startswith("shuffle"):
                steps.append(("shuffle", int(op[len("shuffle"):])))
            else:
                steps.append((op, None))
        return cls(steps)


# A float network as the research world describes it: ("conv", (weight, bias)) | ("gelu", None)
# | ("shuffle", factor), in execution order.
FloatStep = tuple[str, object]


def quantize_network(steps: Sequence[FloatStep]) -> IntegerNetwork:
    return IntegerNetwork(
        [("conv", IntegerConv3x3.quantize(*arg)) if op == "conv" else (op, arg) for op, arg in steps]  # type: ignore[misc]
    )


def _network_names(num_slices: int) -> list[str]:
    return ["hyper_means", "hyper_scales"] + [
        f"{kind}_{k}" for k in range(num_slices) for kind in ("mean", "scale", "lrp")
    ]


class IntegerEntropyParameters:
    """``latent_coder.EntropyParameters`` in exact integer arithmetic (see module docstring).

    Both worlds build it from the same arrays: the research world quantises its trained model
    (``models.torch_networks``), the service loads the arrays the export wrote
    (``entropy_parameters.npz``); the arithmetic is then identical on every machine.
    """

    def __init__(self, networks: Mapping[str, IntegerNetwork], log_hyper_inverse_gain: np.ndarray,
                 max_support: int, log_gain: np.ndarray | None = None) -> None:
        self.networks = dict(networks)
        self.num_slices = sum(name.startswith("mean_") for name in self.networks)
        self.max_support = max_support
        self.log_hyper_inverse_gain = np.asarray(log_hyper_inverse_gain, np.float32)
        self.hyper_inverse_gain = _exp(self.log_hyper_inverse_gain)  # (Q, Cz) float64
        # The gains the slice moments follow (quality-equivariant models only): (Q, M) float64.
        self.log_gain = None if log_gain is None else np.asarray(log_gain, np.float32)
        self.gain = None if self.log_gain is None else _exp(self.log_gain)
        self.inverse_gain = None if self.log_gain is None else _exp(-self.log_gain)

    @classmethod
    def quantize(cls, float_networks: Mapping[str, Sequence[FloatStep]], log_hyper_inverse_gain: np.ndarray,
                 max_support: int, log_gain: np.ndarray | None = None) -> "IntegerEntropyParameters":
        return cls({name: quantize_network(steps) for name, steps in float_networks.items()},
                   log_hyper_inverse_gain, max_support, log_gain)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {
            "format": np.array(FORMAT),
            "max_support": np.array(self.max_support),
            "log_hyper_inverse_gain": self.log_hyper_inverse_gain,
        }
        if self.log_gain is not None:
            arrays["log_gain"] = self.log_gain
        for name, network in self.networks.items():
            arrays |= network.to_arrays(name)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "IntegerEntropyParameters":
        if str(arrays["format"]) != FORMAT:
            raise ValueError(f"entropy parameters in format {arrays['format']}, this code runs {FORMAT}")
        num_slices = sum(1 for key in arrays if key.startswith("mean_") and key.endswith(".program"))
        networks = {name: IntegerNetwork.from_arrays(arrays, name) for name in _network_names(num_slices)}
        log_gain = arrays["log_gain"] if "log_gain" in arrays else None
        return cls(networks, arrays["log_hyper_inverse_gain"], int(arrays["max_support"]), log_gain)

    def _run(self, name: str, *inputs: np.ndarray) -> np.ndarray:
        """One network on the channel concatenation of (1, C_i, H, W) inputs (a batch of one)."""
        channels = [x.shape[1] for x in inputs]
        a = np.empty((sum(channels), *inputs[0].shape[2:]))
        start = 0
        for x, width in zip(inputs, channels):
            to_fixed(x[0], out=a[start : start + width])
            start += width
        return self.networks[name](a)

    def hyper(self, z_hat: np.ndarray, quality: int) -> tuple[np.ndarray, np.ndarray]:
        gain = self.hyper_inverse_gain[quality - 1].reshape(-1, 1, 1)
        a = to_fixed(z_hat[0].astype(np.float64) * gain)
        return (from_fixed(self.networks["hyper_means"](a))[None],
                from_fixed(self.networks["hyper_scales"](a))[None])

    def slice_moments(
        self, k: int, means: np.ndarray, scales: np.ndarray, support: Sequence[np.ndarray], quality: int
    ) -> tuple[np.ndarray, np.ndarray]:
        context = list(support[: self.max_support])
        if self.gain is None:
            return (from_fixed(self._run(f"mean_{k}", means, *context))[None],
                    from_fixed(self._run(f"scale_{k}", scales, *context))[None])
        width = means.shape[1] // self.num_slices
        gains = self.gain[quality - 1].reshape(1, -1, 1, 1)
        inverses = self.inverse_gain[quality - 1].reshape(1, -1, 1, 1)
        context = [decoded * inverses[:, j * width : (j + 1) * width] for j, decoded in enumerate(context)]
        gain = gains[0, k * width : (k + 1) * width]
        return ((from_fixed(self._run(f"mean_{k}", means, *context)) * gain).astype(np.float32)[None],
                (from_fixed(self._run(f"scale_{k}", scales, *context)) * gain).astype(np.float32)[None])

    def refine(
        self, k: int, means: np.ndarray, support: Sequence[np.ndarray], y_hat: np.ndarray
    ) -> np.ndarray:
        residual = half_tanh(self._run(f"lrp_{k}", means, *support[: self.max_support], y_hat))
        return from_fixed(to_fixed(y_hat[0]) + residual)[None]
