"""Re-ID supervised texture generation (Wang et al., CVPR 2019) on our body and PyTorch3D.

config.py (TexGenConfig), model.py (the U-Net), render.py (UV rasters: rasterise once, re-shade),
losses.py (PCB feature loss, face/hand prior, L1), data.py, train.py, optimize.py (texture by
optimisation, projection baseline), evaluate.py, api.py (what the demo and CLI call), fit.py (bodies
for real photos).
"""

from core.texgen.config import TexGenConfig
from core.texgen.model import TextureUNet

__all__ = ["TexGenConfig", "TextureUNet"]
