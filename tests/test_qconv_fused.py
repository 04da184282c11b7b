"""int8 convolution epilogue fusion (passes/fuse_qconv_epilogue.py, kernels/int8/qconv_pool.h):
QConv -> depthwise 1x1 QConv (a BatchNormalization after the ReLU) -> QMaxPool run as one
kernel must give exactly the bytes of the unfused int8 graph, on the fast and the portable
kernels, while the arena shrinks.  On x86 with VNNI + VBMI, blocks with output rows of 16 or more
run through qconv_x86_direct_pool.h, which pools int32 accumulators before requantizing;
"exact-epilogue" forces its per-value route (taken where that would not be exact).
The vectorised requantization (requant_x86.h) must equal
requant.h's scalar rule on every input, including the saturating and rounding edges.
"""
from __future__ import annotations

import shutil
from pathlib import Path
import subprocess

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import REPO, make_model
from edge_sdk.build.toolchain import find_toolchain, march_flags
from edge_sdk.frontend import import_onnx
from edge_sdk.ops.quant_ops import band_rows, conv_geometry_2d, pooled_bands
from edge_sdk.passes import fuse_qconv_epilogue, run_passes
from edge_sdk.quantize import pre_quant_passes, quantize_graph
from edge_sdk.quantize.build_run import HostModel

# (c_in, c_out, kernel, stride, pad, h, w, batchnorm after relu, pool) — pool 0: none.
BLOCKS = [
    (3, 8, 3, 1, 1, 34, 36, True, 2),    # Meso4's first block
    (8, 8, 5, 1, 2, 17, 18, True, 2),    # odd height: the last conv row is dropped by the pool
    (8, 16, 5, 1, 2, 16, 16, True, 4),   # 4x4 pool (Meso4's last block)
    (16, 32, 3, 2, 1, 19, 19, False, 2),  # stride 2, pool without BatchNormalization (VNNI path)
    (4, 8, 3, 1, 0, 12, 12, True, 0),    # BatchNormalization without a pool: the table alone
    (8, 8, 5, 1, 2, 20, 20, True, 0),    # five-row bands (band_rows): a top, an interior and a bottom shape
    (80, 64, 3, 1, 0, 26, 36, False, 2),  # the seed CNN's wide layers: eight 8-channel tiles a row
    (32, 32, 3, 1, 1, 24, 40, True, 2),  # a table over 32 channels, the last block half empty
]


def _block_model(rng, block):
    ci, co, k, st, p, h, w, bn, pool = block
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name

    nodes.append(helper.make_node("Conv", ["x", const("w", rng.standard_normal((co, ci, k, k)) * 0.3),
                                           const("bias", rng.standard_normal(co) * 0.1)], ["c"],
                                  kernel_shape=[k, k], strides=[st, st], pads=[p] * 4))
    nodes.append(helper.make_node("Relu", ["c"], ["r"]))
    t = "r"
    if bn:
        gamma = rng.standard_normal(co)  # negative scales: the table is decreasing there
        stats = [const("g", gamma), const("be", rng.standard_normal(co)), const("m", rng.random(co)),
                 const("v", rng.random(co) + 0.5)]
        nodes.append(helper.make_node("BatchNormalization", [t, *stats], ["bn"]))
        t = "bn"
    if pool:
        nodes.append(helper.make_node("MaxPool", [t], ["p"], kernel_shape=[pool, pool], strides=[pool, pool]))
        t = "p"
    # A consumer after the block keeps the block's output an int8 tensor inside the graph.
    nodes.append(helper.make_node("Sigmoid", [t], ["y"]))
    return make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, ci, h, w])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, co, *_out_hw(block)])], inits,
                      opset=13)


def _out_hw(block):
    _, _, k, st, p, h, w, _, pool = block
    ho, wo = (h + 2 * p - k) // st + 1, (w + 2 * p - k) // st + 1
    return (ho // pool, wo // pool) if pool else (ho, wo)


@pytest.mark.parametrize("kernels", ["fast", "portable", "exact-epilogue"])
@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_fused_int8_conv_block_is_bit_identical_to_the_unfused_graph(save, tmp_path, monkeypatch, kernels, block):
    if kernels == "portable":
        monkeypatch.setenv("EDGE_SDK_KERNELS", "portable")
    rng = np.random.default_rng(5)
    path = save(_block_model(rng, block), "block.onnx")
    ci, h, w = block[0], block[5], block[6]
    g = run_passes(import_onnx(path), pre_quant_passes())
    cal = rng.standard_normal((6, ci, h, w)).astype(np.float32)
    gq, rep = quantize_graph(g, path, cal, evaluate=False)
    assert rep["fallback_ops"] == []
    unfused = HostModel(gq, tmp_path / "unfused")
    x = rng.standard_normal((1, ci, h, w)).astype(np.float32) * 1.5
    want = unfused.run(x)[0]
    fused_g = run_passes(gq, (fuse_qconv_epilogue,))
    qconvs = [n for n in fused_g.nodes if n.op_type == "QConv"]
    assert len(qconvs) == 1 and "conv_out" in qconvs[0].attrs, "the block was not fused"
    if kernels == "exact-epilogue":  # the direct path's per-value route (non-monotone channels)
        qconvs[0].attrs["exact_epilogue"] = True
    assert [n.op_type for n in fused_g.nodes].count("QConv") == 1
    assert not any(n.op_type == "QMaxPool" for n in fused_g.nodes)
    fused = HostModel(fused_g, tmp_path / "fused")
    np.testing.assert_array_equal(fused.run(x)[0], want)
    assert np.unique(want).size > 3, "the block's output should not be constant"
    assert fused.arena_bytes < unfused.arena_bytes if block[-1] else fused.arena_bytes <= unfused.arena_bytes


@pytest.mark.parametrize("parts", [2, 3, 5])
def test_fused_bands_split_by_thread_parts_are_bit_identical(save, tmp_path, parts):
    """Bands of several pooled rows (band_rows) under --threads: each thread part starts its own
    bands at its first row, so a part of 4 rows runs a 3-row band and a 1-row one (12 rows,
    bands of 3, 5 parts: a part of 2 rows and one band shorter than the rest)."""
    block = BLOCKS[-1]
    rng = np.random.default_rng(5)
    path = save(_block_model(rng, block), "block.onnx")
    ci, h, w = block[0], block[5], block[6]
    g = run_passes(import_onnx(path), pre_quant_passes())
    gq, _ = quantize_graph(g, path, rng.standard_normal((6, ci, h, w)).astype(np.float32), evaluate=False)
    x = rng.standard_normal((1, ci, h, w)).astype(np.float32) * 1.5
    want = HostModel(gq, tmp_path / "unfused").run(x)[0]
    fused_g = run_passes(gq, (fuse_qconv_epilogue,))
    conv = next(n for n in fused_g.nodes if n.op_type == "QConv")
    geo, rows = conv_geometry_2d(conv, fused_g), fused_g.tensor(conv.outputs[0]).shape[2]
    assert band_rows(geo, 2, rows) == 3 and rows == 12
    fused_g.metadata["threads"] = parts
    conv.attrs["thread_rows"] = parts
    got = HostModel(fused_g, tmp_path / "fused").run(x)[0]
    np.testing.assert_array_equal(got, want)


def test_pooled_bands_cover_each_part_in_whole_bands():
    geo = dict(c_in=8, c_out=32, k_h=3, k_w=3, stride_h=1, stride_w=1, pad_top=1, pad_left=1, dil_h=1, dil_w=1,
               h_in=48, w_in=30, h_out=48, w_out=30, groups=1)
    rows = 24
    per = band_rows(geo, 2, rows)
    assert per == 5  # ceil(256 / 60) pooled rows of 2 x 30 outputs
    for lo, hi in [(0, 24), (0, 12), (12, 24), (7, 11)]:
        runs = pooled_bands(geo, 2, rows, lo, hi)
        assert runs[0][0] == lo and runs[-1][1] == hi
        assert all(a[1] == b[0] for a, b in zip(runs, runs[1:]))
        for r0, r1, band in runs:
            assert band["h_out"] % 2 == 0 and (r1 - r0) % (band["h_out"] // 2) == 0
            assert band["h_out"] // 2 == min(per, hi - r0)  # whole bands from the part's first row
        top = [b for _, _, b in runs if b["pad_top"]]
        assert len(top) == (1 if lo == 0 else 0)


def _map_model(rng, pool, h, w):
    """Two convs -> Concat -> BatchNormalization -> MaxPool (MesoInception4's blocks): the
    BatchNormalization cannot fold into a conv, so it is a depthwise 1x1 QConv, a channel map."""
    inits, co = [], 6

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name
    nodes = [helper.make_node("Conv", ["x", const(f"w{i}", rng.standard_normal((3, 3, 3, 3)) * 0.3)], [f"c{i}"],
                              pads=[1] * 4) for i in range(2)]
    nodes += [helper.make_node("Relu", [f"c{i}"], [f"r{i}"]) for i in range(2)]
    nodes.append(helper.make_node("Concat", ["r0", "r1"], ["cat"], axis=1))
    gamma = rng.standard_normal(co)  # negative scales: decreasing maps, pooled by their min
    nodes.append(helper.make_node("BatchNormalization", ["cat", const("g", gamma), const("be", rng.standard_normal(co)),
                                                         const("m", rng.random(co)), const("v", rng.random(co) + 0.5)],
                                  ["bn"]))
    nodes.append(helper.make_node("MaxPool", ["bn"], ["p"], kernel_shape=[pool, pool], strides=[pool, pool]))
    nodes.append(helper.make_node("Sigmoid", ["p"], ["y"]))
    return make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, h, w])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, co, h // pool, w // pool])], inits,
                      opset=13)


@pytest.mark.parametrize("kernels", ["fast", "exact-epilogue"])
@pytest.mark.parametrize("pool,h,w", [(2, 18, 21), (4, 17, 16)])
def test_fused_channel_map_pools_first_and_is_bit_identical(save, tmp_path, kernels, pool, h, w):
    rng = np.random.default_rng(11)
    path = save(_map_model(rng, pool, h, w), "map.onnx")
    g = run_passes(import_onnx(path), pre_quant_passes())
    gq, rep = quantize_graph(g, path, rng.standard_normal((6, 3, h, w)).astype(np.float32), evaluate=False)
    assert rep["fallback_ops"] == []
    x = rng.standard_normal((1, 3, h, w)).astype(np.float32) * 1.5
    want = HostModel(gq, tmp_path / "unfused").run(x)[0]
    fused_g = run_passes(gq, (fuse_qconv_epilogue,))
    maps = [n for n in fused_g.nodes if n.op_type == "QConv" and int(n.attrs.get("group", 1)) == 6]
    assert len(maps) == 1 and "conv_out" in maps[0].attrs, "the channel map was not fused with the pool"
    if kernels == "exact-epilogue":  # look up every value, then pool
        maps[0].attrs["exact_epilogue"] = True
    fused = HostModel(fused_g, tmp_path / "fused")
    assert "map_pooled_rows_s8" in (tmp_path / "fused" / "qmodel.cpp").read_text()
    np.testing.assert_array_equal(fused.run(x)[0], want)
    assert np.unique(want).size > 3, "the block's output should not be constant"


def _cpu_has(flag: str) -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(line.startswith("flags") and flag in line.split() for line in text.splitlines())


REQUANT_TEST = r"""
#include <edge_sdk/kernels/int8/requant_x86.h>
#include <cstdio>
#include <random>
using namespace edge_sdk::q8;
int main() {
#if !defined(EDGE_Q8_HAVE_AVX512_REQUANT) && !defined(EDGE_Q8_HAVE_AVX2_REQUANT)
  std::printf("no-simd\n");
  return 0;
#else
  std::mt19937_64 rng(1);
  int32_t acc[37] = {};
  int8_t a[37];
  const int32_t edges[] = {0, 1, -1, INT32_MIN, INT32_MAX, INT32_MIN + 1, 1 << 30, -(1 << 30), 12345, -12345};
  long bad = 0, n = 0, clamped = 0;
  for (int it = 0; it < 100000; ++it) {
    int32_t m = it % 7 == 0 ? INT32_MIN : (it % 5 == 0 ? INT32_MAX : static_cast<int32_t>((1u << 30) + rng() % (1u << 30)));
    if (it % 11 == 0) m = 0;
    if (it % 13 == 0) m = 1 << 30;  // the smallest multiplier: -1 * m is the rounding's boundary
    int shift = static_cast<int>(rng() % 40) - 31;
    if (shift > 8) shift = 8;
    const int32_t zp = static_cast<int32_t>(rng() % 256) - 128;
    const int32_t lo = -128 + static_cast<int32_t>(rng() % 3), hi = 127 - static_cast<int32_t>(rng() % 3);
    const int len = 1 + static_cast<int>(rng() % 37);
    for (int i = 0; i < len; ++i) {
      const int k = static_cast<int>(rng() % 4);
      acc[i] = k == 0 ? edges[rng() % 10] : k == 1 ? static_cast<int32_t>(rng()) : static_cast<int32_t>(rng() % 200001) - 100000;
    }
    requantize_span(acc, len, m, shift, zp, lo, hi, a);
    for (int i = 0; i < len; ++i, ++n) {
      const int8_t want = requantize(acc[i], m, shift, zp, lo, hi);
      bad += a[i] != want;
      clamped += want == lo || want == hi;
    }
#if defined(EDGE_Q8_HAVE_AVX512_REQUANT)
    // the unclamped product too (the saturating INT32_MIN * INT32_MIN is lost in a clamp)
    alignas(64) int32_t ms[16], rs[16], xs[16], got[16];
    _mm512_store_si512(got, multiply_by_quantized_multiplier_x16(_mm512_loadu_si512(acc), m, shift));
    for (int i = 0; i < 16; ++i, ++n) bad += got[i] != multiply_by_quantized_multiplier(acc[i], m, shift);
    // requantize_x16_lanes: a multiplier >= 0 and a right shift per lane pair (two channels a vector).
    for (int i = 0; i < 16; ++i) {  // (lanes 2j and 2j + 1 share their multiplier and shift)
      const int k = static_cast<int>(rng() % 5);
      ms[i] = i % 2 ? ms[i - 1] : k == 0 ? 0 : k == 1 ? INT32_MAX : static_cast<int32_t>((1u << 30) + rng() % (1u << 30));
      rs[i] = i % 2 ? rs[i - 1] : static_cast<int32_t>(rng() % 32);
      xs[i] = rng() % 4 == 0 ? edges[rng() % 10] : static_cast<int32_t>(rng());
    }
    _mm512_store_si512(got, requantize_x16_lanes(_mm512_load_si512(xs), _mm512_load_si512(ms), _mm512_load_si512(rs),
                                                 zp, lo, hi));
    for (int i = 0; i < 16; ++i, ++n) bad += got[i] != requantize(xs[i], ms[i], -rs[i], zp, lo, hi);
    // requantize_s8_x16: one channel's constants prepared once, int8 out, the clamp a compile-time range
    const RequantConst rq = requant_const(shift, zp);
    alignas(16) int8_t b8[4][16];
    _mm_store_si128(reinterpret_cast<__m128i*>(b8[0]), requantize_s8_x16<-128, 127>(_mm512_loadu_si512(acc), m, shift, zp, rq));
    _mm_store_si128(reinterpret_cast<__m128i*>(b8[1]), requantize_s8_x16<-7, 127>(_mm512_loadu_si512(acc), m, shift, zp, rq));
    _mm_store_si128(reinterpret_cast<__m128i*>(b8[2]), requantize_s8_x16<-128, 5>(_mm512_loadu_si512(acc), m, shift, zp, rq));
    _mm_store_si128(reinterpret_cast<__m128i*>(b8[3]), requantize_s8_x16<-100, 90>(_mm512_loadu_si512(acc), m, shift, zp, rq));
    for (int i = 0; i < 16; ++i, n += 4) {
      bad += b8[0][i] != requantize(acc[i], m, shift, zp, -128, 127);
      bad += b8[1][i] != requantize(acc[i], m, shift, zp, -7, 127);
      bad += b8[2][i] != requantize(acc[i], m, shift, zp, -128, 5);
      bad += b8[3][i] != requantize(acc[i], m, shift, zp, -100, 90);
    }
#else
    // the AVX2 form unclamped, with the added zero point wrapping as int32 addition does
    alignas(32) int32_t got[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(got),
                       multiply_by_quantized_multiplier_add_x8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc)),
                                                               m, shift, zp));
    for (int i = 0; i < 8; ++i, ++n)
      bad += got[i] != static_cast<int32_t>(static_cast<uint32_t>(multiply_by_quantized_multiplier(acc[i], m, shift)) +
                                            static_cast<uint32_t>(zp));
#endif
  }
  std::printf("%ld %ld %ld\n", bad, n, clamped);
  return bad != 0;
#endif
}
"""


@pytest.mark.parametrize("march", ["native", "x86-64-v3"])  # v3: the AVX2 form even on an AVX-512 machine
@pytest.mark.parametrize("cxx", ["clang++-19", "g++"])
def test_vector_requantization_equals_the_scalar_rule(tmp_path, cxx, march):
    if not shutil.which(cxx):
        pytest.skip(f"{cxx} is installed by `make test`")
    if march == "x86-64-v3" and not _cpu_has("avx2"):
        pytest.skip("this machine has no AVX2")
    src = tmp_path / "t.cpp"
    src.write_text(REQUANT_TEST)
    exe = tmp_path / "t"
    subprocess.run([cxx, "-std=c++17", "-O2", *march_flags(march, find_toolchain(cxx).kind), "-Wall", "-Wextra", "-Werror",
                    f"-I{REPO}/cpp/include", str(src), "-o", str(exe)], check=True, capture_output=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    if out.stdout.strip() == "no-simd":
        pytest.skip("this machine has neither AVX-512 nor AVX2: requantize_span is the scalar loop")
    bad, n, clamped = map(int, out.stdout.split())
    assert out.returncode == 0 and bad == 0, out.stdout
    assert n > 1_000_000 and 0 < clamped < n  # both clamped and in-range results were compared
