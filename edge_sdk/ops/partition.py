"""Output-channel parts of a node, for models compiled with --threads N.

passes/split_for_threads.py records on a heavy node which channel ranges run on which
thread (attrs["thread_parts"]).  This module turns such a node into one ordinary node per
part, over a small copy of the graph in which the cut inputs and the output are *part
tensors*: contiguous runs of the originals (weights, bias and scales by output channel, the
activation by channel for a depthwise conv).  The op's own scratch_bytes() and emit() then
run on each part unchanged, so threading needs no kernel of its own: the planner reserves
every part's scratch side by side, and the emitter points each part tensor at its offset in
the original (codegen/cpp_writer.py).  Parts never write the same bytes, so the threaded
result is the single-threaded one, bit for bit.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .. import ir
from .registry import lookup

ALIGN = 64  # the planner's buffer alignment: each part's scratch starts on its own line


@dataclass
class Part:
    node: ir.Node
    graph: ir.Graph                  # the original graph plus this part's tensors
    views: dict[str, tuple[str, int]]  # part tensor -> (original tensor, element offset)
    scratch_offset: int = 0          # bytes into the node's scratch buffer


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _cut_quant(q: ir.QuantParams | None, channels: int, c0: int, c1: int) -> ir.QuantParams | None:
    if q is None:
        return None
    scale, zp = np.asarray(q.scale), np.asarray(q.zero_point)
    if scale.size == channels and channels > 1:
        return ir.QuantParams(scale.reshape(-1)[c0:c1].reshape(-1), zp.reshape(-1)[c0:c1] if zp.size == channels
                              else zp, q.axis)
    return q


def _cut(t: ir.Tensor, name: str, axis: int, per: int, channels: int, c0: int, c1: int) -> tuple[ir.Tensor, int]:
    """The part of `t` for channels [c0, c1) along `axis` (per channels per index), and its element offset."""
    shape = list(t.shape)
    if any(d != 1 for d in shape[:axis]):
        raise AssertionError(f"{t.name}: dimensions before axis {axis} must be 1 to cut {shape}")
    i0, i1 = c0 // per, -(-c1 // per)
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    shape[axis] = i1 - i0
    data = None
    if t.data is not None:
        data = np.ascontiguousarray(np.take(t.data, np.arange(i0, i1), axis=axis))
    return ir.Tensor(name, tuple(shape), t.dtype, data, _cut_quant(t.quant, channels, c0, c1)), i0 * inner


def parts(node: ir.Node, g: ir.Graph) -> list[Part]:
    """The node's parts (a single one, the node itself, when it is not split)."""
    ranges = node.attrs.get("thread_parts")
    if not ranges:
        return [Part(node, g, {})]
    split = lookup(node, g).channel_split(node, g)
    assert split is not None, f"{node.name}: thread_parts on an op that cannot split"
    out: list[Part] = []
    offset = 0
    for k, (c0, c1) in enumerate(ranges):
        sub = ir.Graph(g.name, [], dict(g.tensors), g.inputs, g.outputs, g.opset, g.metadata)
        views: dict[str, tuple[str, int]] = {}
        inputs = list(node.inputs)
        cuts = [(i, axis, per) for i, (axis, per) in split.inputs.items() if i < len(inputs) and inputs[i]]
        cuts.append((-1, split.output_axis, 1))
        for i, axis, per in cuts:
            orig = node.outputs[0] if i < 0 else inputs[i]
            name = f"{orig}#part{k}"
            t, elem = _cut(g.tensor(orig), name, axis, per, split.channels, c0, c1)
            sub.tensors[name] = t
            views[name] = (orig, elem)
            if i >= 0:
                inputs[i] = name
        attrs = split.attrs({k2: v for k2, v in node.attrs.items() if k2 != "thread_parts"}, c0, c1)
        pnode = ir.Node(node.op_type, f"{node.name}#part{k}", inputs, [f"{node.outputs[0]}#part{k}"],
                        copy.deepcopy(attrs), node.domain)
        out.append(Part(pnode, sub, views, offset))
        offset += _align(lookup(pnode, sub).scratch_bytes(pnode, sub))
    return out


def scratch_bytes(node: ir.Node, g: ir.Graph) -> int:
    """Scratch the node needs: its op's, or every part's side by side."""
    if not node.attrs.get("thread_parts"):
        return lookup(node, g).scratch_bytes(node, g)
    last = parts(node, g)[-1]  # offsets are the earlier parts' aligned sizes: 0 when none needs any
    return last.scratch_offset + lookup(last.node, last.graph).scratch_bytes(last.node, last.graph)


def balanced_ranges(channels: int, align: int, n: int) -> list[tuple[int, int]]:
    """Split [0, channels) into at most n ranges whose boundaries are multiples of align,
    as equal as they can be."""
    blocks = -(-channels // align)
    n = max(1, min(n, blocks))
    bounds = [min(channels, (blocks * k // n) * align) for k in range(n + 1)]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
