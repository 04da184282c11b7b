"""The intermediate representation: plain data, no behaviour beyond bookkeeping.

A :class:`Graph` is a topologically ordered list of :class:`Node` objects over
named :class:`Tensor` objects.  Every tensor has a static shape and a numpy
dtype; constant tensors carry their data.  Stages (passes, planner, emitter)
take a Graph and return a Graph or a product; none reaches back upstream.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per `axis`."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    data: np.ndarray | None = None  # set for constants (weights)
    quant: QuantParams | None = None

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclass
class Node:
    op_type: str
    name: str
    inputs: list[str]  # "" marks an omitted optional input
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    domain: str = ""

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def input(self, i: int) -> str:
        """Name of input i, or "" when it is omitted."""
        return self.inputs[i] if i < len(self.inputs) else ""


@dataclass
class Graph:
    name: str
    nodes: list[Node]
    tensors: dict[str, Tensor]
    inputs: list[str]
    outputs: list[str]
    opset: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def const(self, name: str) -> np.ndarray | None:
        """Data of a constant tensor, or None if `name` is omitted or computed at run time."""
        if not name:
            return None
        t = self.tensors.get(name)
        return None if t is None else t.data

    def consumers(self) -> dict[str, list[Node]]:
        users: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    users.setdefault(i, []).append(n)
        return users

    def producers(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs if o}

    def prune(self) -> None:
        """Drop nodes and tensors that no graph output depends on."""
        needed = set(self.outputs)
        kept: list[Node] = []
        for n in reversed(self.nodes):
            if any(o in needed for o in n.outputs):
                kept.append(n)
                needed.update(i for i in n.inputs if i)
        self.nodes = kept[::-1]
        live = needed | set(self.inputs)
        for n in self.nodes:
            live.update(n.outputs)
        self.tensors = {k: v for k, v in self.tensors.items() if k in live}

    def weights_bytes(self) -> int:
        used = {i for n in self.nodes for i in n.inputs if i}
        return sum(t.nbytes for k, t in self.tensors.items() if t.is_const and k in used)
