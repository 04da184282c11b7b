"""Graph-to-graph rewrites, in two stages around quantization:

  SIMPLIFY_PASSES  run on every graph straight after import
  LOWERING_PASSES  fp32 kernel-specific rewrites (SiLU and epilogue fusion, weight packing);
                   they run after quantization and touch only float nodes
"""
from __future__ import annotations

from .. import ir
from .fold_batchnorm import fold_batchnorm
from .fuse_activation import fuse_activations
from .fuse_conv_epilogue import fuse_conv_epilogue
from .fuse_silu import fuse_silu
from .pack_conv_weights import pack_conv_weights
from .remove_noops import remove_noops
from .transpose_cancel import cancel_transposes

SIMPLIFY_PASSES = (remove_noops, cancel_transposes, fold_batchnorm, fuse_activations)
LOWERING_PASSES = (fuse_silu, fuse_conv_epilogue, pack_conv_weights)
DEFAULT_PASSES = SIMPLIFY_PASSES + LOWERING_PASSES


def run_passes(g: ir.Graph, passes=DEFAULT_PASSES) -> ir.Graph:
    for p in passes:
        g = p(g)
        g.prune()
    return g
