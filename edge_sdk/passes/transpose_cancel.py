"""Cancel back-to-back Transposes (Keras/tf2onnx graphs are full of them).

Transpose(p2) after Transpose(p1) is one Transpose(p1 o p2), or nothing when
the composition is the identity.
"""
from __future__ import annotations

from .. import ir
from .rewrite import bypass, single_consumer


def _perm(g: ir.Graph, n: ir.Node) -> list[int]:
    rank = len(g.tensor(n.inputs[0]).shape)
    p = n.attr("perm")
    return list(p) if p is not None else list(range(rank))[::-1]


def cancel_transposes(g: ir.Graph) -> ir.Graph:
    changed = True
    while changed:
        changed = False
        producers = g.producers()
        for second in list(g.nodes):
            if second.op_type != "Transpose":
                continue
            first = producers.get(second.inputs[0])
            if first is None or first.op_type != "Transpose" or single_consumer(g, first.outputs[0]) is not second:
                continue
            p1, p2 = _perm(g, first), _perm(g, second)
            composed = [p1[i] for i in p2]
            second.inputs[0] = first.inputs[0]
            second.attrs["perm"] = composed
            g.nodes.remove(first)
            if composed == list(range(len(composed))):
                bypass(g, second, second.inputs[0], second.outputs[0])
            changed = True
            break
        for n in list(g.nodes):
            if n.op_type == "Transpose" and _perm(g, n) == list(range(len(_perm(g, n)))):
                changed |= bypass(g, n, n.inputs[0], n.outputs[0])
    return g
