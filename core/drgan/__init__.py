"""DR-GAN (Tran, Yin and Liu, CVPR 2017): a face's identity f(x) apart from its pose; any yaw from one
photo or several. ``config`` (the paper's values and CPU presets), ``model`` (encoder, decoder,
discriminator), ``losses``, ``train``, ``judge`` (an independent pose/identity classifier for the
evaluation), ``evaluate``, ``api`` (what the app and the CLI call), ``figures``."""

from core.drgan.config import DRGANConfig
from core.drgan.model import DRGAN

__all__ = ["DRGAN", "DRGANConfig"]
