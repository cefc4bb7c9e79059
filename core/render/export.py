"""Export posed, textured bodies as GLB (binary glTF) for gr.Model3D and other viewers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def split_uv_seams(
    vertices: np.ndarray, faces: np.ndarray, verts_uvs: np.ndarray, faces_uvs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One vertex per distinct (position, uv) corner, as glTF needs one UV per vertex.

    Args: vertices (V, 3), faces (F, 3), verts_uvs (T, 2), faces_uvs (F, 3).
    Returns: vertices (V', 3), faces (F, 3), uvs (V', 2).
    """
    pairs = np.stack([faces.reshape(-1), faces_uvs.reshape(-1)], axis=1)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    return vertices[unique[:, 0]], inverse.reshape(-1, 3), verts_uvs[unique[:, 1]]


def export_glb(
    path: str | Path,
    vertices: torch.Tensor | np.ndarray,
    faces: torch.Tensor | np.ndarray,
    verts_uvs: torch.Tensor | np.ndarray,
    faces_uvs: torch.Tensor | np.ndarray,
    texture: torch.Tensor | np.ndarray,
) -> Path:
    """Write one textured mesh as .glb.

    Args:
        vertices: (V, 3) metres, Y up; faces: (F, 3); verts_uvs: (T, 2); faces_uvs: (F, 3);
        texture: (H, W, 3) float in [0, 1], row 0 at the top.
    """
    import trimesh
    from trimesh.visual import TextureVisuals
    from trimesh.visual.material import PBRMaterial

    def to_np(x):
        return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)

    v, f, uv = split_uv_seams(to_np(vertices), to_np(faces), to_np(verts_uvs), to_np(faces_uvs))
    image = Image.fromarray((np.clip(to_np(texture), 0, 1) * 255).astype(np.uint8))
    material = PBRMaterial(baseColorTexture=image, metallicFactor=0.0, roughnessFactor=0.9)
    mesh = trimesh.Trimesh(v, f, visual=TextureVisuals(uv=uv, material=material), process=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(trimesh.exchange.gltf.export_glb(trimesh.Scene(mesh)))
    return path
