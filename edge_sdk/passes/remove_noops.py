"""Drop nodes that compute nothing: Identity, inference-mode Dropout, same-type Cast."""
from __future__ import annotations

import numpy as np

from .. import ir
from .rewrite import bypass


def _is_noop(g: ir.Graph, n: ir.Node) -> bool:
    if n.op_type == "Identity":
        return True
    if n.op_type == "Dropout":
        mask_used = len(n.outputs) > 1 and n.outputs[1] and (n.outputs[1] in g.consumers() or n.outputs[1] in g.outputs)
        training = g.const(n.input(2))
        return not mask_used and (training is None or not bool(np.asarray(training)))
    if n.op_type == "Cast":
        return np.dtype(g.tensor(n.inputs[0]).dtype) == np.dtype(g.tensor(n.outputs[0]).dtype)
    return False


def remove_noops(g: ir.Graph) -> ir.Graph:
    for n in list(g.nodes):
        if _is_noop(g, n) and not g.tensor(n.inputs[0]).is_const:
            bypass(g, n, n.inputs[0], n.outputs[0])
    return g
