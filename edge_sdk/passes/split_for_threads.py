"""Divide the heavy layers of a model compiled with --threads N between N threads.

A node that does enough work to pay for waking the workers is split, by output rows where
its op's emitter can share them out itself (OpDef.row_parts; attrs["thread_rows"]), else by
output channels (OpDef.channel_split; attrs["thread_parts"], up to N channel ranges that
ops/partition.py turns into ordinary nodes).  Both run on the model's thread pool.  The
rest of the graph runs on the calling thread.  With one thread this pass is not run, and the
generated code has no threads at all.
"""
from __future__ import annotations

from .. import ir
from ..ops import lookup
from ..ops.partition import balanced_ranges

# Below this a layer is done in a few microseconds, about what handing it to a spinning worker
# costs (MACs, or an elementwise op's MAC-equivalents: OpDef.thread_work).
MIN_MACS_PER_PART = 50_000


def split_for_threads(g: ir.Graph, threads: int) -> ir.Graph:
    g.metadata["threads"] = threads
    if threads <= 1:
        return g
    for n in g.nodes:
        d = lookup(n, g)
        want = min(threads, d.thread_work(n, g) // MIN_MACS_PER_PART)
        if want < 2:
            continue
        rows = d.row_parts(n, g, want)
        if rows > 1:  # the op shares out its own rows
            n.attrs["thread_rows"] = rows
            continue
        split = d.channel_split(n, g)
        ranges = balanced_ranges(split.channels, split.align, want) if split else []
        if len(ranges) > 1:
            n.attrs["thread_parts"] = tuple(ranges)
    return g
