"""Small graph-editing helpers shared by the passes."""
from __future__ import annotations

from .. import ir


def bypass(g: ir.Graph, node: ir.Node, src: str, dst: str) -> bool:
    """Remove `node`, whose output `dst` equals its input `src`. Returns False if it must stay."""
    if dst in g.outputs:
        producer = g.producers().get(src)
        users = g.consumers().get(src, [])
        if producer is None or src in g.outputs or len(users) != 1:
            return False
        producer.outputs[producer.outputs.index(src)] = dst
    else:
        for n in g.nodes:
            n.inputs = [src if i == dst else i for i in n.inputs]
    g.nodes.remove(node)
    return True


def single_consumer(g: ir.Graph, tensor: str) -> ir.Node | None:
    """The only node reading `tensor`, if exactly one does and it is not a graph output."""
    users = g.consumers().get(tensor, [])
    if len(users) != 1 or tensor in g.outputs:
        return None
    return users[0]
