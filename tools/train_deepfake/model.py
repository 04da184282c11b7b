"""A compact, int8-friendly deepfake-face classifier.

Only Conv + BatchNorm + ReLU6, depthwise-separable blocks, global average pooling and one
Linear layer, so every layer maps onto the int8 kernels with the activation fused into the
requantization clamp. The stem keeps a full 3x3 convolution at high resolution because the
blending and texture traces that separate c23 fakes from reals are fine-grained.
"""
from __future__ import annotations

import torch
from torch import nn


def conv_bn(cin: int, cout: int, k: int, stride: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


def dw_sep(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, cout, 1, 1))


class DeepfakeNet(nn.Module):
    """Input (N, 3, S, S) RGB in [0, 1]; output (N, 1) logit of p_fake (the export appends Sigmoid).

    With `crop`, the network sees the central crop x crop window of the aligned face at the
    crop's native resolution: the blending and texture traces sit in the inner face, and the
    outer ring (hair, background) is the same in a fake and its source video.

    `local` cuts the network at stride 8 so each feature sees a 39-pixel patch before the
    global average: in FF++ the face swapped into a fake belongs to another person of the
    data set, so a model that can recognise people learns identities instead of artefacts."""

    def __init__(self, width: int = 16, dropout: float = 0.3, crop: int = 0, local: bool = False):
        super().__init__()
        self.crop = crop  # >0: look only at the central crop x crop pixels (the inner face)
        w = width
        self.features = nn.Sequential(
            conv_bn(3, w, 3, 2),            # S/2
            conv_bn(w, 2 * w, 3, 2),        # S/4, full conv keeps texture detail
            dw_sep(2 * w, 2 * w, 1),
            dw_sep(2 * w, 4 * w, 2),        # S/8
            dw_sep(4 * w, 4 * w, 1),
            dw_sep(4 * w, 8 * w, 2),        # S/16
            dw_sep(8 * w, 8 * w, 1),
            dw_sep(8 * w, 8 * w, 2),        # S/32
        )
        if local:  # stop at S/8 (receptive field 39 px): texture, not who the face belongs to
            self.features = nn.Sequential(*list(self.features)[:5], conv_bn(4 * w, 8 * w, 1, 1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(8 * w, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.crop:
            o = (x.shape[-1] - self.crop) // 2
            x = x[:, :, o:o + self.crop, o:o + self.crop]
        x = self.pool(self.features(x)).flatten(1)
        return self.fc(self.drop(x))


class WithSigmoid(nn.Module):
    """The exported graph: p_fake probability instead of the logit."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))


def count_macs(net: nn.Module, size: int) -> int:
    """Multiply-accumulates of Conv2d and Linear layers for one (1, 3, size, size) input."""
    macs = 0

    def hook(m, inp, out):
        nonlocal macs
        if isinstance(m, nn.Conv2d):
            macs += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            macs += m.in_features * m.out_features
    hs = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = net.training
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 3, size, size))
    net.train(was_training)
    for h in hs:
        h.remove()
    return macs


class Meso4(nn.Module):
    """MesoNet's Meso4 (Afchar et al. 2018) in plain torch, weight names as in the bundled ONNX
    files, so those weights load directly and fine-tuning starts from them.

    Output (N, 1) is the logit of p_fake: the bundled files output p_real, so the loaded final
    layer is negated (`from_onnx`)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8, eps=1e-3)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 5, padding=2), nn.BatchNorm2d(8, eps=1e-3)
        self.conv3, self.bn3 = nn.Conv2d(8, 16, 5, padding=2), nn.BatchNorm2d(16, eps=1e-3)
        self.conv4, self.bn4 = nn.Conv2d(16, 16, 5, padding=2), nn.BatchNorm2d(16, eps=1e-3)
        self.drop = nn.Dropout(0.5)
        self.fc1, self.fc2 = nn.Linear(1024, 16), nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = nn.functional
        x = f.max_pool2d(self.bn1(f.relu(self.conv1(x))), 2)
        x = f.max_pool2d(self.bn2(f.relu(self.conv2(x))), 2)
        x = f.max_pool2d(self.bn3(f.relu(self.conv3(x))), 2)
        x = f.max_pool2d(self.bn4(f.relu(self.conv4(x))), 4)
        x = x.permute(0, 2, 3, 1).flatten(1)  # Keras flattens NHWC
        x = f.leaky_relu(self.fc1(self.drop(x)), 0.1)
        return self.fc2(self.drop(x))

    @classmethod
    def from_onnx(cls, path) -> "Meso4":
        import onnx
        from onnx import numpy_helper
        weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
                   for t in onnx.load(str(path)).graph.initializer}
        net = cls()
        state = net.state_dict()
        for k in state:
            if k in weights:
                state[k] = weights[k].reshape(state[k].shape)
        state["fc2.weight"], state["fc2.bias"] = -state["fc2.weight"], -state["fc2.bias"]  # p_real -> p_fake
        net.load_state_dict(state)
        return net
