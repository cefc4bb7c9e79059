"""What the demo, the CLI and the tests call: texture a body from one photo, turn it, export it.

>>> from core.texgen import api
>>> model = api.load()                                   # the shipped U-Net and PCB
>>> picture = api.example_picture(0)                     # a synthetic test person + body + camera
>>> texture = api.texture_unet(model, picture.image, picture.annotation)  # (1, 3, S, S), instant
>>> strip = api.orbit(texture, picture.annotation)       # (8, 3, H, W): the body from 8 azimuths
>>> png, glb = api.export(texture, picture.annotation, "out/")

Images are float [0, 1] (B, 3, H, W) tensors; textures (1, 3, S, S) with row 0 = v 1.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from core.body.poses import a_pose
from core.checkpoints import resolve
from core.data.annotations import Annotation
from core.reid.pcb import PCB
from core.render import export_glb
from core.render.scene import fit_distance, make_cameras
from core.render.uv import UVRaster, orbit_annotation, pose_bodies, rasterize_uv, shade
from core.synth.engine import coat_of, shared_renderer
from core.synth.examples import example_people
from core.texgen.config import TexGenConfig
from core.texgen.losses import ReidFeatureLoss
from core.texgen.model import TextureUNet
from core.texgen.optimize import OptimizeStep, mirror_texel_index, optimize_texture, project_texture, projection_maps
from core.texgen.train import load_pcb, load_texgen

__all__ = [
    "ExamplePicture",
    "TextureModel",
    "default_annotation",
    "example_picture",
    "export",
    "load",
    "load_files",
    "optimize",
    "orbit",
    "prepare_image",
    "projection_baseline",
    "raster_for",
    "texture_unet",
]

_RENDER_LOCK = threading.Lock()


@dataclass
class TextureModel:
    """The U-Net, its config and the PCB whose features are the re-ID loss (None: L1 only)."""

    unet: TextureUNet
    config: TexGenConfig
    pcb: PCB | None = None

    @property
    def input_size(self) -> tuple[int, int]:
        return (self.config.height, self.config.width)

    @property
    def texture_size(self) -> int:
        return self.config.texture_size

    def reid_loss(self) -> ReidFeatureLoss | None:
        if self.pcb is None:
            return None
        return ReidFeatureLoss(self.pcb, (self.config.reid_height, self.config.reid_width),
                               self.config.reid_layer_weights)  # fmt: skip


def load_files(unet_path: str | Path, pcb_path: str | Path | None = None) -> TextureModel:
    """A model from a trained U-Net file and (optionally) a PCB file."""
    unet, cfg = load_texgen(unet_path)
    return TextureModel(unet, cfg, load_pcb(pcb_path) if pcb_path is not None else None)


def load(name: str = "texgen", pcb: str | None = "texgen-pcb") -> TextureModel:
    """The registered (shipped) U-Net ``name`` and PCB ``pcb``, checked against the manifest."""
    return load_files(resolve(name), resolve(pcb) if pcb else None)


def prepare_image(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Any (B, 3, H, W) in [0, 1] -> (B, 3, *size), resized (bilinear, antialiased)."""
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"expected an RGB batch (B, 3, H, W), got {tuple(image.shape)}")
    if tuple(image.shape[2:]) == tuple(size):
        return image.float()
    return F.interpolate(image.float(), size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


@torch.no_grad()
def texture_unet(model: TextureModel, image: Tensor, annotation: Annotation) -> Tensor:
    """The U-Net's texture (1, 3, S, S) of a person photo (1, 3, H, W) in [0, 1] whose body and camera are
    ``annotation`` (resized to the model's input; a ``unet_input="projection"`` model projects the photo
    through the body first, the paper's image-input U-Net does not use the body)."""
    unet = model.unet.eval()
    if model.config.unet_input == "image":
        return unet(prepare_image(image, model.input_size)).float()
    img = prepare_image(image, tuple(annotation.image_size))
    maps = projection_maps(img, raster_for(annotation), model.texture_size, _mirror(model.texture_size))
    return unet(maps).float()


def _body():
    return shared_renderer().body


def raster_for(annotation: Annotation, size: tuple[int, int] | None = None) -> UVRaster:
    """The body of ``annotation`` rasterised in its camera (at ``size``, default the annotation's)."""
    if size is not None and tuple(size) != tuple(annotation.image_size):
        annotation = replace(annotation, image_size=(int(size[0]), int(size[1])))
    with _RENDER_LOCK:
        return rasterize_uv(_body(), [annotation])


@lru_cache(maxsize=4)
def _mirror(size: int):
    return mirror_texel_index(shared_renderer().atlas, size)


def projection_baseline(image: Tensor, annotation: Annotation, texture_size: int = 64) -> Tensor:
    """The baseline texture (1, 3, S, S): visible pixels to their texels, mirrored to the back."""
    img = prepare_image(image, tuple(annotation.image_size))
    return project_texture(img, raster_for(annotation), texture_size, _mirror(texture_size))


def optimize(
    model: TextureModel,
    image: Tensor,
    annotation: Annotation,
    loss: str = "reid",
    steps: int = 200,
    init: str = "unet",
    lr: float = 0.05,
    report_every: int = 10,
) -> Iterator[OptimizeStep]:
    """Fit a texture to a photo through its body (rasterised once, re-shaded each step); yields progress.

    init: "unet" (refine the U-Net's texture) or "grey" (start from a flat grey).
    """
    if init not in ("unet", "grey"):
        raise ValueError(f"init must be 'unet' or 'grey', got {init!r}")
    img = prepare_image(image, tuple(annotation.image_size))
    start = texture_unet(model, image, annotation) if init == "unet" else None
    reid = model.reid_loss() if loss in ("reid", "both") else None
    if loss in ("reid", "both") and reid is None:
        raise ValueError("this model has no PCB, so only the L1 loss is available")
    yield from optimize_texture(img, raster_for(annotation), loss=loss, steps=steps, init=start, reid_loss=reid,
                                texture_size=model.texture_size, lr=lr, report_every=report_every)  # fmt: skip


def orbit(texture: Tensor, annotation: Annotation, views: int = 8, size: tuple[int, int] | None = None) -> Tensor:
    """The textured body of ``annotation`` from ``views`` azimuths, starting at the photo's own view:
    (views, 3, H, W) in [0, 1] on white."""
    angles = [360.0 * k / views for k in range(views)]
    notes = [orbit_annotation(annotation, a) for a in angles]
    if size is not None:
        notes = [replace(n, image_size=(int(size[0]), int(size[1]))) for n in notes]
    with _RENDER_LOCK:
        raster = rasterize_uv(_body(), notes)
    render = shade(texture.float(), raster)
    return render + (1 - raster.mask)


def export(texture: Tensor, annotation: Annotation, folder: str | Path, stem: str = "texture") -> tuple[Path, Path]:
    """Write the texture as PNG and the textured body (in the photo's pose) as GLB -> their paths."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tex = texture[0].detach().float().clamp(0, 1).permute(1, 2, 0).numpy()
    png = folder / f"{stem}.png"
    Image.fromarray((tex * 255).round().astype(np.uint8)).save(png)
    body = _body()
    vertices = pose_bodies(body, [annotation])[0]
    glb = export_glb(folder / f"{stem}.glb", vertices, body.faces, body.verts_uvs, body.faces_uvs, tex)
    return png, glb


def default_annotation(size: tuple[int, int] = (128, 64), azimuth: float = 0.0) -> Annotation:
    """A mean-shape body in an A-pose seen from the front, filling the picture: where a photo without a
    body fit is shown (the U-Net needs no fit; the orbit and the GLB need some body)."""
    body = _body()
    pose = a_pose(60.0)
    with torch.no_grad():
        verts = body(body_pose=pose).vertices[0]
    lo, hi = verts.min(0).values, verts.max(0).values
    fov = 20.0
    distance = fit_distance(float(hi[1] - lo[1]), fov, size, margin=1.08)
    cams = make_cameras(azimuth=azimuth, distance=distance, look_at=((lo + hi) / 2).tolist(), fov=fov)
    zeros = np.zeros(3, np.float32)
    return Annotation(betas=np.zeros(10, np.float32), body_pose=pose[0].numpy().astype(np.float32),
                      global_orient=zeros, transl=zeros, R=cams.R[0].numpy(), T=cams.T[0].numpy(), fov=fov,
                      image_size=(int(size[0]), int(size[1])))  # fmt: skip


@dataclass
class ExamplePicture:
    """A synthetic test person: image (1, 3, H, W), the body and camera it was rendered with, the true
    texture (1, 3, S, S), and a label."""

    image: Tensor
    annotation: Annotation
    truth: Tensor
    label: str


@lru_cache(maxsize=16)
def example_picture(index: int, size: tuple[int, int] = (128, 64), truth_size: int = 256) -> ExamplePicture:
    """The ``index``-th example test person (the people the DG-Net tab shows), rendered with its annotation."""
    people = example_people()
    if not 0 <= index < len(people):
        raise ValueError(f"example index must be 0..{len(people) - 1}, got {index}")
    person = people[index]
    pr = shared_renderer()
    with _RENDER_LOCK:
        picture = pr.render([person.identity], [person.nuisance], size)
        truth = pr.body_texture(person.identity, coat_of(person.identity, person.nuisance))
    truth = F.interpolate(truth.permute(2, 0, 1)[None].float(), size=(truth_size, truth_size), mode="area")
    return ExamplePicture(picture.image[:1].clone(), Annotation.from_dict(picture.params[0]), truth, person.label)
