"""Neural-network building blocks and losses shared by the methods: every public name of
:mod:`core.nn.blocks` and :mod:`core.nn.losses`."""

from core.nn import blocks, losses
from core.nn.blocks import *  # noqa: F403 -- the package's names are exactly blocks' and losses' __all__
from core.nn.losses import *  # noqa: F403

__all__ = [*blocks.__all__, *losses.__all__]
