"""The fake/real face classifier: a model compiled by edge-sdk plus how to feed it.

A classifier is described by a spec: which ONNX file (and optionally a pre-quantized QDQ
twin, so int8 needs no calibration data at run time), how an aligned crop becomes its
input tensor (a quantize.images.Preprocess), and which output means "fake".  Bundled
classifiers carry their spec as JSON beside the model in edge_sdk/assets/deepfake/; a
user's own model gets one from arguments.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelError, UserError
from ..quantize.images import Preprocess
from ..resources import assets_dir
from .align import CROP_SCALE
from .model_cache import compiled

DEFAULT_CLASSIFIER = "default"


def bundled_dir() -> Path:
    return assets_dir() / "deepfake"


def bundled_names() -> list[str]:
    return sorted(p.stem for p in bundled_dir().glob("*.json"))


def fake_probability(output: np.ndarray, meaning: str) -> float:
    """The model's raw output -> probability that the face is fake.

    meaning: p_fake (a probability), p_real (1 - it), logit_fake (sigmoid of it), or
    softmax:K / prob:K for a class vector whose class K is "fake"."""
    v = np.asarray(output, np.float64).reshape(-1)
    kind, _, k = meaning.partition(":")
    if kind == "p_fake":
        return float(v[0])
    if kind == "p_real":
        return 1.0 - float(v[0])
    if kind == "logit_fake":
        return float(1.0 / (1.0 + np.exp(-v[0])))
    if kind in ("softmax", "prob"):
        idx = int(k or 1)
        if idx >= v.size:
            raise ModelError(f"output has {v.size} classes, the spec says class {idx} is fake")
        if kind == "prob":
            return float(v[idx])
        e = np.exp(v - v.max())
        return float(e[idx] / e.sum())
    raise UserError(f"unknown output meaning '{meaning}'", "use p_fake, p_real, logit_fake, softmax:K or prob:K")


@dataclass(frozen=True)
class ClassifierSpec:
    model: Path
    preprocess: Preprocess
    output_meaning: str = "p_fake"
    output_index: int = 0
    int8_model: Path | None = None      # pre-quantized QDQ twin of `model`
    threshold: float = 0.5              # the recommended threshold for is_fake
    crop_scale: float = CROP_SCALE      # crop side = crop_scale x max(eye-eye, eyes-mouth)
    crop_size: int = 256                # aligned crop size before resizing to the input
    crop_resize: str = "nearest"        # how the aligned crop is sampled from the frame
    name: str = ""

    @classmethod
    def bundled(cls, name: str = DEFAULT_CLASSIFIER) -> "ClassifierSpec":
        path = bundled_dir() / f"{name}.json"
        if not path.is_file():
            raise UserError(f"no bundled classifier '{name}'", f"bundled: {', '.join(bundled_names()) or 'none'}")
        return cls.from_json(path)

    @classmethod
    def from_json(cls, path: Path) -> "ClassifierSpec":
        d = json.loads(Path(path).read_text())
        if "alias" in d:  # default.json names the shipped default
            return cls.bundled(d["alias"])
        size = int(d["input_size"])
        pre = Preprocess(size, size, d.get("layout", "nchw"), float(d.get("scale", 1 / 255)),
                         tuple(d.get("mean") or (0.0, 0.0, 0.0)), tuple(d.get("std") or (1.0, 1.0, 1.0)),
                         d.get("channels", "rgb"), d.get("resize", "nearest"))
        base = Path(path).parent
        return cls(base / d["model"], pre, d.get("output_meaning", "p_fake"), int(d.get("output", 0)),
                   base / d["int8_model"] if d.get("int8_model") else None, float(d.get("threshold", 0.5)),
                   float(d.get("crop_scale", CROP_SCALE)), int(d.get("crop_size", 256)),
                   d.get("crop_resize", "nearest"), Path(path).stem)

    @classmethod
    def for_model(cls, model: str | Path, preprocess: str | None, output: str = "p_fake",
                  output_index: int = 0) -> "ClassifierSpec":
        """A user's own ONNX classifier: `preprocess` as for --preprocess (size is read from
        the model when omitted), `output` one of p_fake, p_real, logit_fake, softmax:K, prob:K."""
        model = Path(model)
        if not model.is_file():
            raise UserError(f"classifier model '{model}' not found")
        from ..frontend.safe_load import load_onnx
        m = load_onnx(model)
        inits = {t.name for t in m.graph.initializer}
        ins = [i for i in m.graph.input if i.name not in inits]
        dims = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in ins[0].type.tensor_type.shape.dim)
        pre = Preprocess.parse(preprocess or "", dims)
        fake_probability(np.zeros(8), output)  # validate the meaning before any compile
        return cls(model, pre, output, output_index, name=model.stem)


class FaceClassifier:
    """A ClassifierSpec compiled for a device (cached), scoring aligned BGR crops."""

    def __init__(self, spec: ClassifierSpec, device: str = "host", quantize: str = "none", progress=None):
        if quantize not in ("none", "int8"):
            raise InputError(f"quantize must be none or int8, got '{quantize}'")
        self.spec = spec
        src = spec.model
        if quantize == "int8":
            if spec.int8_model is None:
                raise UserError(f"classifier '{spec.name}' has no pre-quantized int8 model",
                                "compile it yourself with `edge-sdk compile --quantize int8 --calibration DIR "
                                "--emit-qdq model_int8.onnx` and pass that file as the model")
            src = spec.int8_model
        # A QDQ model compiles to int8 by itself; "none" keeps its quantization as given.
        self.model = compiled(src, device, "none", progress=progress)
        self.quantize = quantize

    def tensor(self, crop: np.ndarray) -> np.ndarray:
        return self.spec.preprocess.from_bgr(crop)

    def score(self, crop: np.ndarray) -> float:
        """P(fake) for one aligned BGR crop (any size; resized as the spec says)."""
        out = self.model.run(self.tensor(crop))[self.spec.output_index]
        return fake_probability(out, self.spec.output_meaning)
