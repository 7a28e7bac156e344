"""The PyTorch implementation of ``codec.CodecNetworks`` (the research world's reference codec).

``TorchNetworks(model)`` puts a trained ``ScreenContentCodec`` behind the numpy interfaces that
``screen_codec.codec`` and ``entropy.latent_coder`` drive, so compress/decompress here and in the
ONNX Runtime service run the same coding loop and produce the same bitstream. The entropy-parameter
path is the integer one (``entropy.integer_networks``) quantised from the model, the arithmetic the
service runs from the exported arrays.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn

from ..entropy.integer_networks import FORMAT as INTEGER_FORMAT
from ..entropy.integer_networks import FloatStep, IntegerEntropyParameters
from ..entropy.latent_coder import EntropyTables
from ..entropy.rans import CdfTable
from .screen_content import ScreenContentCodec


def model_id(model: ScreenContentCodec) -> bytes:
    """8-byte id: sha256 over the configuration, the entropy-parameter arithmetic and every tensor
    of the state dict."""
    digest = hashlib.sha256(model.config.to_json().encode())
    digest.update(INTEGER_FORMAT.encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.digest()[:8]


def _cdf_table(entropy_model: torch.nn.Module) -> CdfTable:
    return CdfTable(
        cdfs=entropy_model.quantized_cdf.cpu().numpy().astype(np.int32),
        lengths=entropy_model.cdf_length.cpu().numpy().astype(np.int32).reshape(-1),
        offsets=entropy_model.offset.cpu().numpy().astype(np.int32).reshape(-1),
    )


def entropy_tables(model: ScreenContentCodec) -> EntropyTables:
    """The rANS tables of a model (call ``model.update_entropy_tables()`` after training)."""
    return EntropyTables(
        z_table=_cdf_table(model.z_bottleneck),
        z_medians=model.z_bottleneck._get_medians().detach().cpu().numpy().reshape(-1),
        gaussian_table=_cdf_table(model.slices.gaussian),
        scale_table=model.slices.gaussian.scale_table.cpu().numpy().astype(np.float32),
    )


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def _float_steps(module: nn.Module) -> list[FloatStep]:
    """A trained entropy-parameter network as the program ``integer_networks`` quantises."""
    if isinstance(module, nn.Sequential):
        return [step for child in module for step in _float_steps(child)]
    if isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3) and module.stride == (1, 1) \
            and module.padding == (1, 1) and module.bias is not None:
        return [("conv", (_array(module.weight), _array(module.bias)))]
    if isinstance(module, nn.GELU) and module.approximate == "none":
        return [("gelu", None)]
    if isinstance(module, nn.PixelShuffle):
        return [("shuffle", module.upscale_factor)]
    raise ValueError(f"no integer form for {module}")


def integer_entropy_parameters(model: ScreenContentCodec) -> IntegerEntropyParameters:
    """The model's h_s, slice and LRP networks quantised to the exact integer path."""
    slices = model.slices
    networks = {
        "hyper_means": _float_steps(model.hyper_synthesis.means),
        "hyper_scales": _float_steps(model.hyper_synthesis.scales),
    }
    for k in range(slices.num_slices):
        networks[f"mean_{k}"] = _float_steps(slices.mean_nets[k])
        networks[f"scale_{k}"] = _float_steps(slices.scale_nets[k])
        networks[f"lrp_{k}"] = _float_steps(slices.lrp_nets[k])
    log_gain = _array(model.gains.log_gain) if model.config.equivariant_entropy else None
    return IntegerEntropyParameters.quantize(
        networks, _array(model.gains.log_hyper_inverse_gain), slices.max_support, log_gain
    )


class TorchNetworks:
    """``codec.CodecNetworks`` backed by a ``ScreenContentCodec`` on the CPU (eval mode)."""

    def __init__(self, model: ScreenContentCodec) -> None:
        model.eval()
        model.update_entropy_tables()
        self.model = model
        self.model_id = model_id(model)
        self.num_qualities = model.config.num_qualities
        self.tables = entropy_tables(model)
        self.entropy = integer_entropy_parameters(model)

    @torch.no_grad()
    def analyse(
        self, x: np.ndarray, mask: np.ndarray, quality: int
    ) -> tuple[np.ndarray, np.ndarray]:
        y_q, z_q = self.model.analyse(_tensor(x), _tensor(mask), torch.tensor([quality]))
        return _array(y_q), _array(z_q)

    @torch.no_grad()
    def synthesise(self, y_hat: np.ndarray, z_hat: np.ndarray, quality: int) -> np.ndarray:
        return _array(self.model.synthesise(_tensor(y_hat), _tensor(z_hat), torch.tensor([quality])))
