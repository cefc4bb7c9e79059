"""PyTorch3D rendering of bodies: scenes, textures, fragment reuse and GLB export."""

from core.render.export import export_glb
from core.render.scene import (
    BodyRenderer,
    Raster,
    fit_distance,
    make_cameras,
    make_lights,
)
from core.render.textures import TEXTURES, texture_from_image, uv_checker, uv_grid

__all__ = [
    "BodyRenderer", "Raster", "TEXTURES", "export_glb", "fit_distance", "make_cameras",
    "make_lights", "texture_from_image", "uv_checker", "uv_grid",
]  # fmt: skip
