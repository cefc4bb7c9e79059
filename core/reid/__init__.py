"""Re-ID models shared by the methods: ResNet backbones with the last-stride option and the plain baseline.

DG-Net's appearance encoder and teacher are built from here; the part model (PCB) is to join them.
"""

from core.reid.backbone import RESNET_CHANNELS, ReidBaseline, build_resnet, load_reid_baseline, resnet_feature_map

__all__ = ["RESNET_CHANNELS", "ReidBaseline", "build_resnet", "load_reid_baseline", "resnet_feature_map"]
