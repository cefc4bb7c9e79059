"""Neural-network building blocks shared by the methods (see :mod:`core.nn.blocks`)."""

from core.nn.blocks import (
    ASPP,
    MLP,
    AdaptiveInstanceNorm2d,
    ClassBlock,
    Conv2dBlock,
    LayerNorm,
    LinearBlock,
    ResBlock,
    ResBlocks,
    adain_layers,
    assign_adain_params,
    make_activation,
    num_adain_params,
    split_adain_params,
)

__all__ = [
    "ASPP",
    "MLP",
    "AdaptiveInstanceNorm2d",
    "ClassBlock",
    "Conv2dBlock",
    "LayerNorm",
    "LinearBlock",
    "ResBlock",
    "ResBlocks",
    "adain_layers",
    "assign_adain_params",
    "make_activation",
    "num_adain_params",
    "split_adain_params",
]
