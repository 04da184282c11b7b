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


def _concat_model():
    """Fire-module style: two convs of one input concatenated on channels, that concat
    nested in a second one with a Relu of itself, one input twice, and a member that is
    also a graph output."""
    rng = np.random.default_rng(1)
    w = [numpy_helper.from_array((rng.standard_normal((c, 8, 3, 3)) * 0.2).astype(np.float32), f"w{k}")
         for k, c in enumerate((8, 16))]
    nodes = [helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["x", "w1"], ["b"], pads=[1, 1, 1, 1]),
             helper.make_node("Tanh", ["a"], ["ra"]),
             helper.make_node("Concat", ["ra", "b"], ["c1"], axis=1),      # 24 ch
             helper.make_node("Tanh", ["c1"], ["t1"]),
             helper.make_node("Concat", ["c1", "t1", "b"], ["c2"], axis=1),  # 64 ch, c1 nested
             helper.make_node("Concat", ["x", "x"], ["c3"], axis=1),
             helper.make_node("ReduceMean", ["c2"], ["m2"], axes=[1], keepdims=1),
             helper.make_node("ReduceMean", ["c3"], ["m3"], axes=[1], keepdims=1),
             helper.make_node("Add", ["m2", "m3"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 8])
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 16, 8, 8])]
    return make_model(nodes, [x], outs, w)


def test_channel_concat_inputs_are_written_in_place(save, tmp_path):
    p = save(_concat_model())
    plan = analyze(p).plan
    ch = 8 * 8 * 4  # bytes per channel
    # The first Tanh runs over conv a in place, and a itself lives at the start of c1; c1 lives at
    # the start of c2 and the Tanh after it.  b is a graph output, so the concats copy it.
    assert plan.placed_at("ra", "c1", 0) and plan.placed_at("a", "c2", 0)
    assert plan.placed_at("c1", "c2", 0) and plan.placed_at("t1", "c2", 24 * ch)
    assert not plan.placed_at("b", "c1", 8 * ch) and plan.storage["b"] == "output"
    assert plan.root["x"] == "x"  # a graph input is never moved
    x = np.random.default_rng(4).standard_normal((1, 8, 8, 8)).astype(np.float32)
    m = edge_sdk.compile(p, out_dir=tmp_path / "o")
    assert_close_to_ort(m.run(x), ort_run(p, {"x": x}))
    src = (tmp_path / "o" / "model.cpp").read_text()
    assert src.count("copy_rows(") == 4  # b into c1 and c2, x twice into c3
