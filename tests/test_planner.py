"""Arena planner: buffers alive at the same time never overlap; memory is reused."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import edge_sdk
from edge_sdk.compiler import analyze

from conftest import assert_close_to_ort, make_model, ort_run


def _chain_model(n_layers=6, c=8, hw=16):
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(n_layers):
        w = numpy_helper.from_array((rng.standard_normal((c, c, 3, 3)) * 0.2).astype(np.float32), f"w{i}")
        inits.append(w)
        nodes.append(helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Tanh", [f"c{i}"], [f"t{i}"]))
        prev = f"t{i}"
    nodes.append(helper.make_node("Add", [prev, "t0"], ["y"]))  # keeps t0 alive to the end
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, hw, hw])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, hw, hw])
    return make_model(nodes, [x], [y], inits)


def test_live_buffers_never_overlap_and_memory_is_reused(save, tmp_path):
    p = save(_chain_model())
    a = analyze(p)
    plan, g = a.plan, a.graph
    t_bytes = 8 * 16 * 16 * 4
    bufs = plan.buffers
    # 12 intermediates of t_bytes each (plus per-conv scratch); reuse keeps the arena to a few of them.
    scratch = max((b.nbytes for b in bufs if b.name.startswith("scratch:")), default=0)
    assert plan.arena_bytes <= 3 * t_bytes + scratch
    assert plan.arena_bytes < sum(b.nbytes for b in bufs) / 3
    for i, b in enumerate(bufs):
        for c in bufs[i + 1:]:
            if b.first <= c.last and c.first <= b.last:
                assert b.offset + b.nbytes <= c.offset or c.offset + c.nbytes <= b.offset, (b, c)
    assert all(b.offset % 64 == 0 for b in bufs)
    # Tanh runs in place over its conv's output.
    tanh_outs = [n.outputs[0] for n in g.nodes if n.op_type == "Tanh"]
    assert all(plan.root[t] != t for t in tanh_outs)
    x = np.random.default_rng(3).standard_normal((1, 8, 16, 16)).astype(np.float32)
    assert_close_to_ort(edge_sdk.compile(p, out_dir=tmp_path / "o").run(x), ort_run(p, {"x": x}))


def test_describe_prints_one_line_per_buffer(save):
    plan = analyze(save(_chain_model())).plan
    text = plan.describe()
    assert text.splitlines()[0] == f"arena: {plan.arena_bytes} bytes"
    assert len(text.splitlines()) == 1 + len(plan.buffers)
