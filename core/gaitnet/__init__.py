"""GaitNet (Zhang et al., CVPR 2019): gait recognition via disentangled representation learning.

An auto-encoder splits each masked RGB frame into an appearance feature f_a and a pose feature f_g; a
3-layer LSTM over the f_g sequence gives the gait feature. See config.py for the paper's settings.
"""

from core.gaitnet.config import GaitNetConfig

__all__ = ["GaitNetConfig"]
