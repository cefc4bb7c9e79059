"""Neural-network building blocks shared by the methods: every public name of :mod:`core.nn.blocks`."""

from core.nn import blocks
from core.nn.blocks import *  # noqa: F403 -- the package's names are exactly blocks' __all__

__all__ = list(blocks.__all__)
