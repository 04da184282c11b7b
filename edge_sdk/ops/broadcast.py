"""NumPy broadcasting resolved at compile time into a coalesced iteration space."""
from __future__ import annotations

import numpy as np

MAX_RANK = 8


def _strides(shape: tuple[int, ...], out: tuple[int, ...]) -> list[int]:
    shape = (1,) * (len(out) - len(shape)) + tuple(shape)
    st, acc = [0] * len(out), 1
    for i in range(len(out) - 1, -1, -1):
        st[i] = 0 if shape[i] == 1 and out[i] != 1 else acc
        acc *= shape[i]
    return st


def broadcast_space(out: tuple[int, ...], *operands: tuple[int, ...]) -> tuple[list[int], list[list[int]]]:
    """(dims, strides per operand) with adjacent dims merged wherever every operand allows."""
    out = tuple(out) or (1,)
    strides = [_strides(s, out) for s in operands]
    dims = list(out)
    # Drop size-1 dims (they never advance), keep at least one.
    keep = [i for i, d in enumerate(dims) if d != 1] or [len(dims) - 1]
    dims = [dims[i] for i in keep]
    strides = [[s[i] for i in keep] for s in strides]
    i = len(dims) - 1
    while i > 0:
        if all(s[i - 1] == s[i] * dims[i] for s in strides):
            dims[i - 1] *= dims[i]
            for s in strides:
                s[i - 1] = s[i]
                del s[i]
            del dims[i]
        i -= 1
    return dims, strides


def bcast_params(e, out: tuple[int, ...], *operands: tuple[int, ...]) -> str:
    """Declare an edge_sdk::Bcast block for up to three operands; return its name."""
    dims, strides = broadcast_space(out, *operands)
    if len(dims) > MAX_RANK:
        raise ValueError("rank too high")
    pad = lambda v: list(v) + [0] * (MAX_RANK - len(v))  # noqa: E731
    s = strides + [[0] * len(dims)] * (3 - len(strides))
    return e.params("edge_sdk::Bcast", [("rank", len(dims)), ("dims", pad(dims)),
                                        ("s0", pad(s[0])), ("s1", pad(s[1])), ("s2", pad(s[2]))])


def out_size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))
