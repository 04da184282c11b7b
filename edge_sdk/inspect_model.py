"""`edge-sdk inspect`: what the compiler sees in a model, before any code is written."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from .compiler import analyze
from .ops import lookup


def inspect_model(path: str | Path, batch: int = 1, input_shapes=None) -> dict:
    a = analyze(path, batch=batch, input_shapes=input_shapes, strict=False)
    g = a.graph
    ops = Counter(n.op_type for n in g.nodes)
    report = {
        "model": str(path),
        "sha256": a.sha256,
        "opset": g.opset,
        "producer": g.metadata.get("producer", ""),
        "inputs": [{"name": t, "shape": list(g.tensor(t).shape), "dtype": str(g.tensor(t).dtype)} for t in g.inputs],
        "outputs": [{"name": t, "shape": list(g.tensor(t).shape), "dtype": str(g.tensor(t).dtype)} for t in g.outputs],
        "nodes": len(g.nodes),
        "ops": dict(sorted(ops.items())),
        "unsupported": [{"node": p.node, "op_type": p.op_type, "opset": p.opset, "message": p.message}
                        for p in a.unsupported],
        "parameters": sum(g.tensor(t).size for t in g.tensors if g.tensor(t).is_const),
        "weights_bytes": g.weights_bytes(),
        "macs": a.macs,
        "arena_bytes": a.plan.arena_bytes if a.plan else None,
    }
    if a.plan:
        report["layers"] = [{"node": n.name, "op_type": n.op_type, "macs": lookup(n, g).macs(n, g),
                             "output_shape": list(g.tensor(n.outputs[0]).shape)} for n in g.nodes]
    return report
