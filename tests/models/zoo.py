"""Real classifier architectures in plain torch (no torchvision here), exported to ONNX.

Weights are random but deterministic (fixed seed per architecture).  BatchNorm
statistics are first measured on random data, so activations keep a sane scale
through deep nets (an untrained net otherwise shrinks or explodes, hiding
errors in early layers), then perturbed so no BatchNorm is close to identity.

`export(arch, exporter)` returns the path of a cached .onnx file under
<repo>/.cache/zoo/, keyed by architecture, exporter and ZOO_VERSION + torch's
version, so reruns skip torch entirely.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

ZOO_VERSION = "1"  # bump when an architecture or the weight recipe changes
CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "zoo"
# torchscript: torch.onnx.export(dynamo=False, opset 17), which folds Conv+BN itself.
# dynamo: the torch.export-based exporter with its default onnxscript optimisation (opset 20+).
# dynamo_raw: the same with optimize=False: unfolded BatchNormalization after every Conv, and
#   Shape -> Expand / CastLike chains, Identity; what the compiler's own folding has to handle.
EXPORTERS = ("torchscript", "dynamo", "dynamo_raw")


def _torch():
    import torch  # imported lazily: only needed on a cache miss
    return torch


# ---------------------------------------------------------------- architectures
def _build_modules():
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    def conv_bn(cin, cout, k=3, s=1, groups=1, act=nn.ReLU6):
        layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act is not None:
            layers.append(act())
        return nn.Sequential(*layers)

    def make_divisible(v, divisor=8):
        new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
        return new_v + divisor if new_v < 0.9 * v else new_v

    # ---- MobileNetV2 (torchvision layout): inverted residuals, ReLU6 -> Clip.
    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = int(round(cin * expand))
            self.use_res = stride == 1 and cin == cout
            layers = [] if expand == 1 else [conv_bn(cin, hidden, 1)]
            layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), conv_bn(hidden, cout, 1, act=None)]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.use_res else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self, width=1.0, num_classes=1000):
            super().__init__()
            cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                   (6, 160, 3, 2), (6, 320, 1, 1)]
            cin = make_divisible(32 * width)
            last = make_divisible(1280 * max(1.0, width))
            layers = [conv_bn(3, cin, 3, 2)]
            for t, c, n, s in cfg:
                cout = make_divisible(c * width)
                for i in range(n):
                    layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                    cin = cout
            layers.append(conv_bn(cin, last, 1))
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

        def forward(self, x):
            x = F.adaptive_avg_pool2d(self.features(x), 1)
            return self.classifier(torch.flatten(x, 1))

    # ---- ResNet-18: residual adds, strided 1x1 downsample, max pool with padding.
    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return F.relu(y + (x if self.down is None else self.down(x)))

    class ResNet(nn.Module):
        def __init__(self, blocks=(2, 2, 2, 2), widths=(64, 128, 256, 512), num_classes=1000):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0]),
                                      nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            layers, cin = [], widths[0]
            for i, (n, w) in enumerate(zip(blocks, widths)):
                for j in range(n):
                    layers.append(BasicBlock(cin, w, 2 if (j == 0 and i > 0) else 1))
                    cin = w
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(cin, num_classes)

        def forward(self, x):
            x = self.layers(self.stem(x))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    # ---- SqueezeNet 1.1: Fire modules (Concat), ceil_mode max pooling, conv classifier.
    class Fire(nn.Module):
        def __init__(self, cin, squeeze, e1, e3):
            super().__init__()
            self.squeeze = nn.Conv2d(cin, squeeze, 1)
            self.e1 = nn.Conv2d(squeeze, e1, 1)
            self.e3 = nn.Conv2d(squeeze, e3, 3, padding=1)

        def forward(self, x):
            x = F.relu(self.squeeze(x))
            return torch.cat([F.relu(self.e1(x)), F.relu(self.e3(x))], 1)

    class SqueezeNet11(nn.Module):
        def __init__(self, num_classes=1000):
            super().__init__()
            pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 3, 2), nn.ReLU(), pool(), Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(), Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
            self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, num_classes, 1), nn.ReLU(),
                                            nn.AdaptiveAvgPool2d(1))

        def forward(self, x):
            return torch.flatten(self.classifier(self.features(x)), 1)

    # ---- EfficientNet-style: MBConv with SiLU, squeeze-excitation, HardSwish/HardSigmoid blocks.
    class SqueezeExcite(nn.Module):
        def __init__(self, c, reduced, gate):
            super().__init__()
            self.fc1 = nn.Conv2d(c, reduced, 1)
            self.fc2 = nn.Conv2d(reduced, c, 1)
            self.gate = gate()

        def forward(self, x):
            s = F.adaptive_avg_pool2d(x, 1)
            return x * self.gate(self.fc2(F.silu(self.fc1(s))))

    class MBConv(nn.Module):
        def __init__(self, cin, cout, k, stride, expand, act, gate):
            super().__init__()
            hidden = cin * expand
            self.use_res = stride == 1 and cin == cout
            layers = [] if expand == 1 else [conv_bn(cin, hidden, 1, act=act)]
            layers += [conv_bn(hidden, hidden, k, stride, groups=hidden, act=act),
                       SqueezeExcite(hidden, max(4, cin // 4), gate), conv_bn(hidden, cout, 1, act=None)]
            self.block = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.block(x) if self.use_res else self.block(x)

    class EfficientNetStyle(nn.Module):
        def __init__(self, num_classes=100):
            super().__init__()
            S, HS, SG, HG = nn.SiLU, nn.Hardswish, nn.Sigmoid, nn.Hardsigmoid
            cfg = [(16, 16, 3, 1, 1, S, SG), (16, 24, 3, 2, 4, S, SG), (24, 24, 3, 1, 4, S, SG),
                   (24, 40, 5, 2, 4, HS, HG), (40, 40, 5, 1, 4, HS, HG), (40, 80, 3, 2, 4, S, SG),
                   (80, 112, 5, 1, 6, HS, HG)]
            layers = [conv_bn(3, 16, 3, 2, act=S)]
            layers += [MBConv(*c) for c in cfg]
            layers.append(conv_bn(112, 320, 1, act=HS))
            self.features = nn.Sequential(*layers)
            self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(320, num_classes))

        def forward(self, x):
            return self.head(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))

    # ---- MesoNet (Afchar et al. 2018), torch form of the Keras models (NCHW flatten).
    class Meso4(nn.Module):
        def __init__(self):
            super().__init__()
            def block(cin, cout, k, pool):
                return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2), nn.ReLU(), nn.BatchNorm2d(cout),
                                     nn.MaxPool2d(pool, pool))
            self.features = nn.Sequential(block(3, 8, 3, 2), block(8, 8, 5, 2), block(8, 16, 5, 2),
                                          block(16, 16, 5, 4))
            self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * 8 * 8, 16),
                                      nn.LeakyReLU(0.1), nn.Dropout(0.5), nn.Linear(16, 1), nn.Sigmoid())

        def forward(self, x):
            return self.head(self.features(x))

    class Inception(nn.Module):
        def __init__(self, cin, a, b, c, d):
            super().__init__()
            self.x1 = nn.Conv2d(cin, a, 1)
            self.x2 = nn.Sequential(nn.Conv2d(cin, b, 1), nn.ReLU(), nn.Conv2d(b, b, 3, padding=1))
            self.x3 = nn.Sequential(nn.Conv2d(cin, c, 1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=2, dilation=2))
            self.x4 = nn.Sequential(nn.Conv2d(cin, d, 1), nn.ReLU(), nn.Conv2d(d, d, 3, padding=3, dilation=3))
            self.bn = nn.BatchNorm2d(a + b + c + d)

        def forward(self, x):
            y = torch.cat([F.relu(self.x1(x)), F.relu(self.x2(x)), F.relu(self.x3(x)), F.relu(self.x4(x))], 1)
            return F.max_pool2d(self.bn(y), 2, 2)

    class MesoInception4(nn.Module):
        def __init__(self):
            super().__init__()
            def block(cin, cout, pool):
                return nn.Sequential(nn.Conv2d(cin, cout, 5, padding=2), nn.ReLU(), nn.BatchNorm2d(cout),
                                     nn.MaxPool2d(pool, pool))
            self.features = nn.Sequential(Inception(3, 1, 4, 4, 2), Inception(11, 2, 4, 4, 2),
                                          block(12, 16, 2), block(16, 16, 4))
            self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * 8 * 8, 16),
                                      nn.LeakyReLU(0.1), nn.Dropout(0.5), nn.Linear(16, 1), nn.Sigmoid())

        def forward(self, x):
            return self.head(self.features(x))

    # ---- VGG16 (config D) with a small dense head; at 64x64 the head is 2048->256->10.
    class VGG16(nn.Module):
        def __init__(self, size=64, num_classes=10):
            super().__init__()
            cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
            layers, cin = [], 3
            for v in cfg:
                if v == "M":
                    layers.append(nn.MaxPool2d(2, 2))
                else:
                    layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
                    cin = v
            self.features = nn.Sequential(*layers)
            side = size // 32
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(512 * side * side, 256), nn.ReLU(), nn.Dropout(0.5),
                                      nn.Linear(256, num_classes))

        def forward(self, x):
            return self.head(self.features(x))

    # ---- Keras-style: NHWC input, transposed to NCHW at the input, flattened in NHWC order.
    class KerasNHWC(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
            self.dense = nn.Linear(8 * 8 * 32, 32)
            self.out = nn.Linear(32, 5)

        def forward(self, x):                       # x: N, H, W, C
            y = self.features(x.permute(0, 3, 1, 2))
            y = y.permute(0, 2, 3, 1).reshape(y.shape[0], -1)  # Keras Flatten order (H, W, C)
            return torch.softmax(self.out(F.relu(self.dense(y))), dim=-1)

    # ---- The seed project's three-conv 150x150 binary classifier.
    class SeedCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2))
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(128 * 17 * 17, 16), nn.ReLU(), nn.Linear(16, 1),
                                      nn.Sigmoid())

        def forward(self, x):
            return self.head(self.features(x))

    return dict(MobileNetV2=MobileNetV2, ResNet=ResNet, SqueezeNet11=SqueezeNet11,
                EfficientNetStyle=EfficientNetStyle, Meso4=Meso4, MesoInception4=MesoInception4, VGG16=VGG16,
                KerasNHWC=KerasNHWC, SeedCNN=SeedCNN)


@dataclass(frozen=True)
class Arch:
    name: str
    factory: Callable  # modules dict -> nn.Module
    input_shape: tuple[int, ...]
    slow: bool = False  # big: compiled only in the slow tier
    note: str = ""


ARCHS: dict[str, Arch] = {a.name: a for a in [
    Arch("meso4", lambda m: m["Meso4"](), (1, 3, 256, 256)),
    Arch("mesoinception4", lambda m: m["MesoInception4"](), (1, 3, 256, 256)),
    Arch("mobilenetv2_035_96", lambda m: m["MobileNetV2"](0.35, 1000), (1, 3, 96, 96)),
    Arch("mobilenetv2_035_96_2cls", lambda m: m["MobileNetV2"](0.35, 2), (1, 3, 96, 96),
         note="the microcontroller benchmark: 2 classes, as in TFLite Micro's person detection"),
    Arch("efficientnet_style_128", lambda m: m["EfficientNetStyle"](), (1, 3, 128, 128)),
    Arch("squeezenet11", lambda m: m["SqueezeNet11"](1000), (1, 3, 224, 224)),
    Arch("keras_nhwc_64", lambda m: m["KerasNHWC"](), (1, 64, 64, 3), note="NHWC input"),
    Arch("seed_cnn_150", lambda m: m["SeedCNN"](), (1, 3, 150, 150)),
    Arch("resnet_small", lambda m: m["ResNet"]((1, 1, 1), (16, 32, 64), 10), (1, 3, 64, 64),
         note="ResNet-ish, 3 stages of one BasicBlock: residual adds at test-tier cost"),
    Arch("resnet18", lambda m: m["ResNet"](), (1, 3, 224, 224), slow=True),
    Arch("mobilenetv2_100_224", lambda m: m["MobileNetV2"](1.0, 1000), (1, 3, 224, 224), slow=True),
    Arch("vgg16_64", lambda m: m["VGG16"](64, 10), (1, 3, 64, 64), slow=True,
         note="64x64 input keeps the dense head at 2048x256; the 13 convs still hold 14.7M weights"),
]}


def _seed_for(name: str) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(name)) % (2**31)


def _randomise_batchnorm(model, shape, seed: int) -> None:
    """Measure BN statistics on random inputs, then perturb them and the affine params."""
    torch = _torch()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if not bns:
        return
    g = torch.Generator().manual_seed(seed + 1)
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn((4,) + tuple(shape[1:]), generator=g))
    for m in bns:
        c = m.num_features
        with torch.no_grad():
            m.running_mean += 0.1 * torch.randn(c, generator=g) * m.running_var.sqrt()
            m.running_var *= 0.5 + torch.rand(c, generator=g)
            m.weight.copy_(0.5 + torch.rand(c, generator=g))
            m.bias.copy_(0.2 * torch.randn(c, generator=g))
        m.momentum = 0.1


def build(arch: str):
    """The torch module for `arch`, random weights from a fixed seed, in eval mode."""
    torch = _torch()
    a = ARCHS[arch]
    seed = _seed_for(arch)
    torch.manual_seed(seed)
    model = a.factory(_build_modules())
    _randomise_batchnorm(model, a.input_shape, seed)
    return model.eval()


def make_input(arch: str, seed: int = 0) -> np.ndarray:
    """A deterministic float32 input for `arch` (standard normal)."""
    rng = np.random.default_rng(_seed_for(arch) + seed)
    return rng.standard_normal(ARCHS[arch].input_shape).astype(np.float32)


def cache_path(arch: str, exporter: str) -> Path:
    import torch
    tv = torch.__version__.replace("+", "_")
    return CACHE_DIR / f"{arch}.{exporter}.z{ZOO_VERSION}.torch{tv}.onnx"


class ExportError(RuntimeError):
    """The torch exporter could not export this architecture."""


def _export(model, x, path: Path, exporter: str) -> None:
    torch = _torch()
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed" notices
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17,
                              input_names=["input"], output_names=["output"])
        elif exporter in ("dynamo", "dynamo_raw"):
            prog = torch.onnx.export(model, (x,), dynamo=True, optimize=exporter == "dynamo",
                                     input_names=["input"], output_names=["output"])
            prog.save(str(path))
        else:
            raise ValueError(exporter)


def export(arch: str, exporter: str) -> Path:
    """Path of the cached ONNX file for arch x exporter, exporting on a cache miss.

    An export failure is cached too (<name>.error.txt beside it) and raised as ExportError;
    delete that file to retry."""
    path = cache_path(arch, exporter)
    if path.is_file():
        return path
    err = path.with_suffix(".error.txt")
    if err.is_file():
        raise ExportError(err.read_text())
    torch = _torch()
    path.parent.mkdir(parents=True, exist_ok=True)
    model = build(arch)
    x = torch.from_numpy(make_input(arch))
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        _export(model, x, Path(tmp), exporter)
        _check_single_file(Path(tmp))
        os.replace(tmp, path)  # atomic: parallel test workers never see half a file
    except Exception as e:  # noqa: BLE001 - recorded so the failure is reported, not retried each run
        msg = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        err.write_text(msg)
        raise ExportError(msg) from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _check_single_file(path: Path) -> None:
    """Weights must be inside the file (no external data beside it)."""
    import onnx
    m = onnx.load(str(path), load_external_data=False)
    for t in m.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            raise ExportError("exporter wrote external data")
