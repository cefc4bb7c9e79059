"""DG-Net (CVPR 2019): appearance / structure codes of people, swaps between them, re-ID features.

``DGNet`` holds the networks, ``DGNetConfig`` their configuration (paper defaults, ``small`` preset),
``load_official`` / ``save_official`` read and write the official NVlabs/DG-Net release files.
"""

from core.dgnet.config import DGNetConfig
from core.dgnet.model import DGNet, denormalise, normalise, to_gray
from core.dgnet.official import LoadReport, load_official, save_official, synthetic_official_weights

__all__ = [
    "DGNet",
    "DGNetConfig",
    "LoadReport",
    "denormalise",
    "load_official",
    "normalise",
    "save_official",
    "synthetic_official_weights",
    "to_gray",
]
