"""Shared gait pieces for GaitNet and DyGait: walks, clips, the GEI baseline, the CASIA-B evaluation."""
