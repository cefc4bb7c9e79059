"""DyGait (Wang et al., ICCV 2023): gait recognition that weighs what moves. Each DAM block convolves
x - mean_T(x) (the legs and arms; the torso and a bag cancel out) beside the frames themselves.
``config`` (the paper's CASIA-B values and CPU presets), ``model`` (DAM blocks, LTA, TP, GeM, separate
FCs, BNNeck; the departures from the published code are listed there), ``losses`` (batch-all triplet,
cross-entropy), ``train`` (P x K training, validation-based model selection, resume, torchrun),
``api`` (load a checkpoint, ours or OpenGait's layout; embed and compare walks; dynamic maps)."""

from core.dygait.config import DyGaitConfig
from core.dygait.model import DAMBlock, DyGait

__all__ = ["DAMBlock", "DyGait", "DyGaitConfig"]
