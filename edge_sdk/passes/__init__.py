"""Graph-to-graph rewrites, in two stages around quantization:

  SIMPLIFY_PASSES  run on every graph straight after import
  LOWERING_PASSES  kernel-specific rewrites after quantization: fp32 SiLU and epilogue fusion,
                   weight packing, residual Adds into conv_chan.h's epilogue (float nodes only);
                   int8 conv epilogue fusion (QConv nodes), x * f(x) as one table
"""
from __future__ import annotations

from .. import ir
from .fold_batchnorm import fold_batchnorm
from .fuse_activation import fuse_activations
from .fuse_conv_epilogue import fuse_conv_epilogue
from .fuse_qconv_epilogue import fuse_qconv_epilogue
from .fuse_qlookup_mul import fuse_qlookup_mul
from .fuse_residual_add import fuse_residual_add
from .fuse_silu import fuse_silu
from .pack_conv_weights import pack_conv_weights
from .remove_noops import remove_noops
from .transpose_cancel import cancel_transposes

SIMPLIFY_PASSES = (remove_noops, cancel_transposes, fold_batchnorm, fuse_activations)
LOWERING_PASSES = (fuse_silu, fuse_conv_epilogue, pack_conv_weights, fuse_residual_add, fuse_qconv_epilogue,
                   fuse_qlookup_mul)
DEFAULT_PASSES = SIMPLIFY_PASSES + LOWERING_PASSES


def run_passes(g: ir.Graph, passes=DEFAULT_PASSES) -> ir.Graph:
    for p in passes:
        g = p(g)
        g.prune()
    return g
