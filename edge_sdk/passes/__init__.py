"""Graph-to-graph rewrites run after import, in this order."""
from __future__ import annotations

from .. import ir
from .fold_batchnorm import fold_batchnorm
from .fuse_activation import fuse_activations
from .remove_noops import remove_noops
from .transpose_cancel import cancel_transposes

DEFAULT_PASSES = (remove_noops, cancel_transposes, fold_batchnorm, fuse_activations)


def run_passes(g: ir.Graph, passes=DEFAULT_PASSES) -> ir.Graph:
    for p in passes:
        g = p(g)
        g.prune()
    return g
