"""The synthetic people engine: identities, nuisances, rendering, dataset writers, ground truth."""

from core.synth.identity import Identity, sample_identity
from core.synth.nuisance import Nuisance

__all__ = ["Identity", "Nuisance", "sample_identity"]
