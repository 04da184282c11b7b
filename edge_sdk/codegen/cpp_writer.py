"""ir.Graph + ArenaPlan -> model.h, model.cpp, weights.h, weights.cpp.

Output is deterministic: the same model and options give byte-identical files.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import re
from dataclasses import dataclass

import numpy as np

from .. import ir
from ..ops import lookup
from ..ops.partition import parts as thread_parts
from ..plan import ArenaPlan
from .context import EmitContext, ctype_of, cxx_literal

DTYPE_CODES = {"float": 1, "uint8_t": 2, "int8_t": 3, "uint16_t": 4, "int16_t": 5, "int32_t": 6,
               "int64_t": 7, "bool": 9, "double": 11, "uint32_t": 12, "uint64_t": 13}


@dataclass
class Sources:
    files: dict[str, str]      # file name -> text
    headers: set[str]          # kernel headers used (relative to cpp/include)
    prefix: str


# Set by instrumented(): the generated run function records a steady_clock timestamp after
# each node (for `edge-sdk bench --profile`, edge_sdk/profile.py).  Host builds only.
_PROFILE = contextvars.ContextVar("edge_sdk_profile", default=False)
PROFILE_FILE = "profile_nodes.json"  # which node each timestamp follows (name, op, shape, MACs)


@contextlib.contextmanager
def instrumented():
    token = _PROFILE.set(True)
    try:
        yield
    finally:
        _PROFILE.reset(token)


def c_identifier(name: str) -> str:
    s = re.sub(r"[^0-9a-zA-Z_]", "_", name)
    if not s or s[0].isdigit():
        s = "m_" + s
    return s.lower()


def _format_values(arr: np.ndarray, ctype: str) -> str:
    flat = arr.reshape(-1)
    if flat.size == 0:
        return "0"
    if ctype == "float":
        vals = [cxx_literal(v, "float") for v in flat.astype(np.float32).tolist()]
    elif ctype == "double":
        vals = [cxx_literal(v, "double") for v in flat.tolist()]
    else:
        vals = [cxx_literal(v, ctype) for v in flat.tolist()]
    lines = [", ".join(vals[i:i + 12]) for i in range(0, len(vals), 12)]
    return ",\n  ".join(lines)


def write_sources(g: ir.Graph, plan: ArenaPlan, prefix: str, banner: str, sha256: str) -> Sources:
    ns = f"{prefix}_impl"
    macro = prefix.upper()
    names: dict[str, str] = {}
    order: list[str] = []
    for t in g.inputs + [o for n in g.nodes for o in list(n.inputs) + list(n.outputs)] + g.outputs:
        if t and t not in names:
            names[t] = f"t{len(names)}" if not g.tensor(t).is_const else f"w{len(names)}"
            order.append(t)

    e = EmitContext(g, plan, names, ns)
    body: list[str] = []
    profile = _PROFILE.get()
    marks: list[dict] = []  # profiling: the node behind each timestamp after the first
    for i, n in enumerate(g.nodes):
        d = lookup(n, g)
        e.node_index = i
        if d.header:
            e.headers.add(d.header)
        if d.alias and n.outputs[0] not in plan.copies:
            continue
        body.append(f"  // {i}: {n.op_type} '{n.name}'")
        if d.alias:  # a view that must land in the caller's output buffer
            body.append(_copy(e, n.inputs[0], n.outputs[0]))
            continue
        code = _emit_parts(n, g, e) if n.attrs.get("thread_parts") else d.emit(n, g, e)
        body.extend("  " + line if line else "" for line in code.strip("\n").split("\n"))
        if profile:
            marks.append({"node": n.name, "op": n.op_type, "shape": list(g.tensor(n.outputs[0]).shape),
                          "macs": int(d.macs(n, g))})
            body.append(f"  profile_mark({len(marks)});")
    # Graph outputs that no node writes (constants, inputs) or that repeat another output.
    written = {o for n in g.nodes for o in n.outputs}
    seen_out: set[str] = set()
    for k, o in enumerate(g.outputs):
        if o in seen_out or plan.storage.get(o) in ("const", "input"):
            body.append(f"  std::memcpy(outputs[{k}], {names[o]}, {g.tensor(o).nbytes});")
        elif o not in written:
            raise AssertionError(f"graph output {o} has no producer")
        seen_out.add(o)

    # Pointer declarations.
    ptr_lines: list[str] = []
    in_index = {t: k for k, t in enumerate(g.inputs)}
    out_index: dict[str, int] = {}
    for k, t in enumerate(g.outputs):
        out_index.setdefault(t, k)
    for t in order:
        tt = g.tensor(t)
        if tt.is_const:
            continue
        ct = ctype_of(tt.dtype)
        store = plan.storage.get(t)
        root = plan.root.get(t, t)
        if store == "input" and t in in_index:
            expr = f"static_cast<const {ct}*>(inputs[{in_index[t]}])"
            ptr_lines.append(f"  [[maybe_unused]] const {ct}* const {names[t]} = {expr};")
        elif store == "input" or store == "const":  # a view of an input or a constant
            ptr_lines.append(f"  [[maybe_unused]] const {ct}* const {names[t]} = reinterpret_cast<const {ct}*>({names[root]});")
        elif store == "output" and t in out_index:
            ptr_lines.append(f"  [[maybe_unused]] {ct}* const {names[t]} = static_cast<{ct}*>(outputs[{out_index[t]}]);")
        elif store == "output":  # a view of an output buffer
            ptr_lines.append(f"  [[maybe_unused]] {ct}* const {names[t]} = reinterpret_cast<{ct}*>({names[root]});")
        else:
            off = plan.offsets[root] + plan.shift.get(t, 0)
            ptr_lines.append(f"  [[maybe_unused]] {ct}* const {names[t]} = reinterpret_cast<{ct}*>(arena_base + {off});")

    # Weights.
    weight_decls, weight_defs = [], []
    for t in order:
        tt = g.tensor(t)
        if not tt.is_const:
            continue
        ct = ctype_of(tt.dtype)
        n = max(tt.size, 1)
        shape = "x".join(map(str, tt.shape)) or "scalar"
        weight_decls.append(f"alignas(64) extern const {ct} {names[t]}[{n}];  // {t} [{shape}]")
        weight_defs.append(f"alignas(64) extern const {ct} {names[t]}[{n}] = {{\n  {_format_values(tt.data, ct)}\n}};")

    io_info = []
    for kind, lst in (("inputs", g.inputs), ("outputs", g.outputs)):
        entries = []
        for k, t in enumerate(lst):
            tt = g.tensor(t)
            shp = f"{kind}_shape{k}"
            io_info.append(f"constexpr int64_t {shp}[] = {{{', '.join(str(d) for d in tt.shape) or '0'}}};")
            entries.append(f"  {{\"{_c_string(t)}\", {DTYPE_CODES[ctype_of(tt.dtype)]}, {len(tt.shape)}, {shp}, {tt.nbytes}u}},")
        io_info.append(f"constexpr edge_tensor_info {kind}_info[] = {{\n" + "\n".join(entries) + "\n};")

    headers = sorted(e.headers)
    model_h = _model_h(g, prefix, macro, plan, banner)
    weights_h = (f"{banner}\n#pragma once\n#include <stdint.h>\n\nnamespace {ns} {{\n"
                 + "\n".join(weight_decls) + f"\n}}  // namespace {ns}\n")
    weights_cpp = (f"{banner}\n#include \"{prefix}_weights.h\"\n\nnamespace {ns} {{\n"
                   + "\n".join(weight_defs) + f"\n}}  // namespace {ns}\n")
    threads = int(g.metadata.get("threads", 1))
    pool_decls = []
    if e.uses_pool:
        pool_decls = [f"// The model's {threads - 1} worker thread(s), started on the first run (--threads {threads}).",
                      f"inline edge_sdk::ThreadPool<{threads - 1}>& thread_pool() {{",
                      f"  static edge_sdk::ThreadPool<{threads - 1}> pool;", "  return pool;", "}"]
        headers = sorted(set(headers) | {"edge_sdk/thread_pool.h"})
    prof_decls, prof_api = [], []
    if profile:
        prof_decls = [f"uint64_t profile_ns[{len(marks) + 1}];  // steady_clock after each node (instrumented build)",
                      "inline void profile_mark(int k) {",
                      "  profile_ns[k] = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(",
                      "      std::chrono::steady_clock::now().time_since_epoch()).count());",
                      "}"]
        prof_api = [f"extern \"C\" EDGE_SDK_EXPORT const uint64_t* {prefix}_profile_ns(void) {{",
                    f"  return {ns}::profile_ns;", "}", ""]
        body.insert(0, "  profile_mark(0);")
    model_cpp = "\n".join([
        banner,
        f"#include \"{prefix}.h\"",
        f"#include \"{prefix}_weights.h\"",
        "#include <cstring>",
        *(["#include <chrono>"] if profile else []),
        *[f"#include <{h}>" for h in headers],
        "",
        f"namespace {ns} {{",
        *e.decls,
        *io_info,
        *pool_decls,
        *prof_decls,
        f"}}  // namespace {ns}",
        "",
        *prof_api,
        f"extern \"C\" EDGE_SDK_EXPORT int {prefix}_run(const void* const* inputs, void* const* outputs, void* arena) {{",
        f"  using namespace {ns};",
        f"  if ({macro}_ARENA_BYTES != 0 && arena == nullptr) return EDGE_ERR_NULL_ARENA;",
        "  if (reinterpret_cast<uintptr_t>(arena) % EDGE_SDK_ARENA_ALIGN != 0) return EDGE_ERR_MISALIGNED_ARENA;",
        "  if (inputs == nullptr || outputs == nullptr) return EDGE_ERR_NULL_IO;",
        "  [[maybe_unused]] uint8_t* const arena_base = static_cast<uint8_t*>(arena);",
        *ptr_lines,
        "",
        *body,
        "  return EDGE_OK;",
        "}",
        "",
        f"extern \"C\" EDGE_SDK_EXPORT const edge_model_abi* {prefix}_abi(void) {{",
        "  static const edge_model_abi abi = {",
        f"      EDGE_SDK_ABI_VERSION, \"{prefix}\", \"{sha256}\", {macro}_ARENA_BYTES,",
        f"      {len(g.inputs)}, {len(g.outputs)}, {ns}::inputs_info, {ns}::outputs_info, {prefix}_run}};",
        "  return &abi;",
        "}",
        "",
    ])
    files = {f"{prefix}.h": model_h, f"{prefix}.cpp": model_cpp,
             f"{prefix}_weights.h": weights_h, f"{prefix}_weights.cpp": weights_cpp}
    if profile:
        files[PROFILE_FILE] = json.dumps(marks, indent=1) + "\n"
    return Sources(files, set(headers), prefix)


def _emit_parts(node: ir.Node, g: ir.Graph, e: EmitContext) -> str:
    """A node split over threads by output channels (ops/partition.py): each part is the op's
    own code on its channel range, run by the model's thread pool."""
    ps = thread_parts(node, g)
    body = ["switch (part) {"]
    for k, p in enumerate(ps):
        views = {name: f"({e.names[orig]} + {off})" if off else e.names[orig] for name, (orig, off) in p.views.items()}
        with e.part(p.graph, views, p.scratch_offset):
            code = lookup(p.node, p.graph).emit(p.node, p.graph, e)
        c0, c1 = node.attrs["thread_parts"][k]
        body.append(f"  case {k}: {{  // channels [{c0}, {c1})")
        body += ["    " + line if line else "" for line in code.strip("\n").split("\n")]
        body.append("  } break;")
    body.append("}")
    return "\n".join(["{", *("  " + line for line in e.parallel(len(ps), body)), "}"])


def _c_string(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _copy(e: EmitContext, src: str, dst: str) -> str:
    return f"  std::memcpy({e.ref(dst)}, {e.ref(src)}, {e.tensor(dst).nbytes});"


def _model_h(g: ir.Graph, prefix: str, macro: str, plan: ArenaPlan, banner: str) -> str:
    lines = [banner, f"#ifndef {macro}_H", f"#define {macro}_H", "", "#include <edge_sdk/abi.h>", "",
             f"/* Bytes of working memory {prefix}_run needs (64-byte aligned, owned by the caller). */",
             f"#define {macro}_ARENA_BYTES {plan.arena_bytes}u",
             f"#define {macro}_WEIGHTS_BYTES {g.weights_bytes()}u",
             f"#define {macro}_NUM_INPUTS {len(g.inputs)}u", f"#define {macro}_NUM_OUTPUTS {len(g.outputs)}u"]
    for kind, lst in (("INPUT", g.inputs), ("OUTPUT", g.outputs)):
        for k, t in enumerate(lst):
            tt = g.tensor(t)
            lines.append(f"/* {kind.lower()} {k}: '{t}' {ctype_of(tt.dtype)}[{', '.join(map(str, tt.shape))}] */")
            lines.append(f"#define {macro}_{kind}{k}_ELEMENTS {tt.size}u")
            lines.append(f"#define {macro}_{kind}{k}_BYTES {tt.nbytes}u")
    lines += ["", "#ifdef __cplusplus", "extern \"C\" {", "#endif", "",
              "/* Runs one inference. inputs/outputs: pointers in ONNX order (see above).",
              f" * arena: {macro}_ARENA_BYTES bytes, 64-byte aligned; its contents need not persist.",
              " * Returns EDGE_OK (0) or an EDGE_ERR_* code. Reentrant when each caller has its own arena. */",
              f"int {prefix}_run(const void* const* inputs, void* const* outputs, void* arena);",
              f"const edge_model_abi* {prefix}_abi(void);", "",
              "#ifdef __cplusplus", "}", "#endif", f"#endif /* {macro}_H */", ""]
    return "\n".join(lines)
