"""The PyTorch implementation of ``codec.CodecNetworks`` (the research world's reference codec).

``TorchNetworks(model)`` puts a trained ``ScreenContentCodec`` behind the numpy interfaces that
``screen_codec.codec`` and ``entropy.latent_coder`` drive, so compress/decompress here and in the
ONNX Runtime service run the same coding loop and produce the same bitstream.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
import torch

from ..entropy.latent_coder import EntropyTables
from ..entropy.rans import CdfTable
from .screen_content import ScreenContentCodec


def model_id(model: ScreenContentCodec) -> bytes:
    """8-byte id: sha256 over the configuration and every tensor of the state dict."""
    digest = hashlib.sha256(model.config.to_json().encode())
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


class TorchEntropyParameters:
    """``latent_coder.EntropyParameters`` over the model's hyper-synthesis and slice networks."""

    def __init__(self, model: ScreenContentCodec) -> None:
        self.model = model
        self.num_slices = model.config.num_slices

    @torch.no_grad()
    def hyper(self, z_hat: np.ndarray, quality: int) -> tuple[np.ndarray, np.ndarray]:
        means, scales = self.model.hyper(_tensor(z_hat), torch.tensor([quality]))
        return _array(means), _array(scales)

    @torch.no_grad()
    def slice_moments(
        self, k: int, means: np.ndarray, scales: np.ndarray, support: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        mean, scale = self.model.slices.moments(
            k, _tensor(means), _tensor(scales), [_tensor(s) for s in support]
        )
        return _array(mean), _array(scale)

    @torch.no_grad()
    def refine(
        self, k: int, means: np.ndarray, support: Sequence[np.ndarray], y_hat: np.ndarray
    ) -> np.ndarray:
        refined = self.model.slices.refine(
            k, _tensor(means), [_tensor(s) for s in support], _tensor(y_hat)
        )
        return _array(refined)


class TorchNetworks:
    """``codec.CodecNetworks`` backed by a ``ScreenContentCodec`` on the CPU (eval mode)."""

    def __init__(self, model: ScreenContentCodec) -> None:
        model.eval()
        model.update_entropy_tables()
        self.model = model
        self.model_id = model_id(model)
        self.num_qualities = model.config.num_qualities
        self.tables = entropy_tables(model)
        self.entropy = TorchEntropyParameters(model)

    @torch.no_grad()
    def analyse(
        self, x: np.ndarray, mask: np.ndarray, quality: int
    ) -> tuple[np.ndarray, np.ndarray]:
        y_q, z_q = self.model.analyse(_tensor(x), _tensor(mask), torch.tensor([quality]))
        return _array(y_q), _array(z_q)

    @torch.no_grad()
    def synthesise(self, y_hat: np.ndarray, z_hat: np.ndarray, quality: int) -> np.ndarray:
        return _array(self.model.synthesise(_tensor(y_hat), _tensor(z_hat), torch.tensor([quality])))
