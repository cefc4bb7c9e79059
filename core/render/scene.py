"""PyTorch3D scenes for bodies: cameras, lights, UV textures, RGBA and silhouette renders.

Conventions: world is SMPL's (metres, Y up, the body faces +Z). Images leave this module as float32
in [0, 1], shape (B, C, H, W), row 0 at the top. Azimuth 0 looks at the body's front, 90 at its
left side, 180 at its back; elevation > 0 looks down from above.

Rendering cost on a CPU grows with pixels x faces (PyTorch3D rasterises naively there), so a
:class:`Raster` (the rasteriser's fragments) can be kept and re-shaded with new textures; see
:meth:`BodyRenderer.rasterize` and :meth:`BodyRenderer.shade`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from pytorch3d.renderer import (
    BlendParams,
    DirectionalLights,
    FoVPerspectiveCameras,
    HardPhongShader,
    MeshRasterizer,
    RasterizationSettings,
    TexturesUV,
    look_at_view_transform,
)
from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
from pytorch3d.renderer.mesh.rasterizer import Fragments
from pytorch3d.structures import Meshes


def _as_batch(value: float | torch.Tensor | list[float], batch: int) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
    return t.expand(batch) if t.numel() == 1 else t


def make_cameras(
    azimuth: float | torch.Tensor = 0.0,
    elevation: float | torch.Tensor = 0.0,
    distance: float | torch.Tensor = 3.0,
    look_at: tuple[float, float, float] | torch.Tensor = (0.0, 0.0, 0.0),
    fov: float | torch.Tensor = 30.0,
    batch: int = 1,
    device: str | torch.device = "cpu",
) -> FoVPerspectiveCameras:
    """Perspective cameras on spheres around ``look_at``.

    Args:
        azimuth, elevation: degrees, scalars or (B,) tensors.
        distance: metres from ``look_at``, scalar or (B,).
        look_at: (3,) point or (B, 3) points.
        fov: field of view of the shorter image side in degrees, scalar or (B,).
        batch: number of cameras when everything else is a scalar.
    """
    az, el, dist, fovs = (_as_batch(v, batch) for v in (azimuth, elevation, distance, fov))
    at = torch.as_tensor(look_at, dtype=torch.float32).reshape(-1, 3)
    n = max(len(az), len(el), len(dist), len(fovs), len(at))
    az, el, dist, fovs, at = az.expand(n), el.expand(n), dist.expand(n), fovs.expand(n), at.expand(n, 3)
    rot, trans = look_at_view_transform(dist=dist, elev=el, azim=az, at=at, device=device)
    return FoVPerspectiveCameras(R=rot, T=trans, fov=fovs, znear=0.05, zfar=50.0, device=device)


def fit_distance(height: float, fov: float, image_size: tuple[int, int], margin: float = 1.1) -> float:
    """Camera distance at which an upright object ``height`` metres tall fills the image height.

    PyTorch3D's field of view spans the shorter image side; a tall image sees H / W times more.
    """
    h, w = image_size
    vertical_tan = math.tan(math.radians(fov) / 2) * max(1.0, h / w)
    return margin * 0.5 * height / vertical_tan


def make_lights(
    direction: tuple[float, float, float] = (0.3, 0.8, 1.0),
    color: tuple[float, float, float] = (1.0, 1.0, 1.0),
    intensity: float = 0.55,
    ambient: float = 0.5,
    device: str | torch.device = "cpu",
) -> DirectionalLights:
    """A directional light (towards ``direction`` from the scene) plus ambient light, no specular."""
    diffuse = tuple(intensity * c for c in color)
    amb = tuple(ambient * c for c in color)
    return DirectionalLights(
        direction=(direction,), diffuse_color=(diffuse,), ambient_color=(amb,),
        specular_color=((0.0, 0.0, 0.0),), device=device,
    )  # fmt: skip


def srgb_to_linear(values: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded values in [0, 1] -> linear light (the IEC 61966-2-1 curve)."""
    v = values.clamp(0.0, 1.0)
    return torch.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: torch.Tensor) -> torch.Tensor:
    """Linear light in [0, 1] -> sRGB-encoded values."""
    v = values.clamp(0.0, 1.0)
    return torch.where(v <= 0.0031308, v * 12.92, 1.055 * v.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def front_facing(vertices: torch.Tensor, faces: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(B, F) bool: faces whose outward normal points towards each camera centre (B, 3)."""
    tri = vertices[:, faces]  # (B, F, 3, 3)
    normals = torch.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1)
    return ((centres[:, None] - tri[:, :, 0]) * normals).sum(-1) > 0


@dataclass
class Raster:
    """What the rasteriser produced for a batch of posed bodies and cameras; re-shade it many times.

    ``meshes`` hold only the faces kept for each camera; ``face_ids[b]`` maps them back to the
    body's face indices.
    """

    meshes: Meshes
    cameras: FoVPerspectiveCameras
    fragments: Fragments
    face_ids: list[torch.Tensor]

    @property
    def mask(self) -> torch.Tensor:
        """(B, 1, H, W) float, 1 where a face covers the pixel."""
        return (self.fragments.pix_to_face[..., 0] >= 0).float()[:, None]

    def body_face_index(self) -> torch.Tensor:
        """(B, H, W) index of the body face seen at each pixel, -1 for background."""
        pix = self.fragments.pix_to_face[..., 0]
        first = self.meshes.mesh_to_faces_packed_first_idx()
        out = torch.full_like(pix, -1)
        for b, ids in enumerate(self.face_ids):
            hit = pix[b] >= 0
            out[b][hit] = ids[pix[b][hit] - first[b]]
        return out


class BodyRenderer:
    """Renders posed, textured bodies of one topology with PyTorch3D.

    A closed body hides every face that points away from the camera, and faces wholly outside the
    image cover no pixel, so both are dropped before rasterising: identical pixels for about half
    the CPU time, far less for close-up crops such as faces (the mesh is watertight; see tests).

    Args:
        faces: (F, 3) long; verts_uvs: (T, 2) in [0, 1]; faces_uvs: (F, 3) long.
        image_size: (H, W) in pixels.
        background: RGB in [0, 1] used where no face is hit.
        cull_back_faces: drop faces pointing away from the camera (exact for closed meshes).
        band_rows: rasterise in bands of this many rows, each with only its faces (0: one pass).
    """

    def __init__(
        self,
        faces: torch.Tensor,
        verts_uvs: torch.Tensor,
        faces_uvs: torch.Tensor,
        image_size: tuple[int, int] = (128, 64),
        background: tuple[float, float, float] = (1.0, 1.0, 1.0),
        cull_back_faces: bool = True,
        band_rows: int = 8,
        device: str | torch.device = "cpu",
    ) -> None:
        self.device = torch.device(device)
        self.band_rows = band_rows
        self.faces = faces.to(self.device)
        self.verts_uvs = verts_uvs.to(self.device)
        self.faces_uvs = faces_uvs.to(self.device)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.cull_back_faces = cull_back_faces
        self.settings = RasterizationSettings(
            image_size=self.image_size, blur_radius=0.0, faces_per_pixel=1, bin_size=None,
        )  # fmt: skip
        self.blend = BlendParams(background_color=background)

    @classmethod
    def for_body(cls, body, image_size: tuple[int, int] = (128, 64), **kwargs) -> BodyRenderer:
        """Renderer for a :class:`core.body.BodyModel`'s topology and UVs."""
        return cls(body.faces, body.verts_uvs, body.faces_uvs, image_size, **kwargs)

    def rasterize(self, vertices: torch.Tensor, cameras: FoVPerspectiveCameras) -> Raster:
        """Rasterise posed vertices (B, V, 3) seen by B cameras."""
        vertices = vertices.to(self.device)
        batch = vertices.shape[0]
        if len(cameras) not in (1, batch):
            raise ValueError(f"got {len(cameras)} cameras for {batch} meshes")
        if self.cull_back_faces:
            centres = cameras.get_camera_center().expand(batch, 3)
            keep = front_facing(vertices, self.faces, centres) & self._in_view(vertices, cameras)
            face_ids = [torch.nonzero(k).squeeze(1) for k in keep]
        else:
            face_ids = [torch.arange(len(self.faces), device=self.device)] * batch
        meshes = Meshes(verts=list(vertices), faces=[self.faces[ids] for ids in face_ids])
        rasterizer = MeshRasterizer(cameras=cameras, raster_settings=self.settings)
        if self.band_rows <= 0 or self.band_rows >= self.image_size[0]:
            fragments = rasterizer(meshes)
        else:
            fragments = self._rasterize_in_bands(rasterizer.transform(meshes))
        return Raster(meshes=meshes, cameras=cameras, fragments=fragments, face_ids=face_ids)

    def _rasterize_in_bands(self, meshes_ndc: Meshes) -> Fragments:
        """Rasterise horizontal bands of rows, each with only the faces that reach it.

        PyTorch3D's CPU rasteriser tests every face at every pixel; a band of h rows that only
        sees the faces crossing it costs h x W x (its faces), so the whole image costs a fraction
        of one pass, with the same pixel centres and hence the same fragments.

        meshes_ndc: the meshes in PyTorch3D's NDC (x left, y up, z = view depth), as
        ``MeshRasterizer.transform`` returns them.
        """
        h, w = self.image_size
        m = min(h, w)
        verts = meshes_ndc.verts_padded()  # (B, V, 3)
        faces = meshes_ndc.faces_list()
        first_full = meshes_ndc.mesh_to_faces_packed_first_idx()
        rows = (h / m - verts[..., 1]) * m / 2 - 0.5  # pixel-row coordinate of each vertex
        face_rows = [rows[b][f] for b, f in enumerate(faces)]  # (F_b, 3)
        row_min = [r.min(1).values for r in face_rows]
        row_max = [r.max(1).values for r in face_rows]
        parts: list[tuple[torch.Tensor, ...]] = []
        for r0 in range(0, h, self.band_rows):
            r1 = min(h, r0 + self.band_rows)
            hb = r1 - r0
            mb = min(hb, w)
            scale = m / mb
            shift = (hb - h + 2 * r0) / mb  # maps full-image row r0 + k onto band row k
            sel = [
                torch.nonzero((hi >= r0 - 0.5) & (lo <= r1 - 0.5)).squeeze(1)
                for lo, hi in zip(row_min, row_max, strict=True)
            ]
            if sum(len(x) for x in sel) == 0:  # nothing reaches these rows
                empty = torch.full((len(faces), hb, w, 1), -1.0, device=verts.device)
                parts.append((empty.long(), empty, empty[..., None].expand(-1, -1, -1, -1, 3), empty))
                continue
            band_verts = verts.clone()
            band_verts[..., :2] *= scale
            band_verts[..., 1] += shift
            band = Meshes(verts=list(band_verts), faces=[f[s] for f, s in zip(faces, sel, strict=True)])
            pix, zbuf, bary, dists = rasterize_meshes(
                band, image_size=(hb, w), blur_radius=0.0, faces_per_pixel=1, bin_size=0,
                perspective_correct=True,
            )  # fmt: skip
            first_band = band.mesh_to_faces_packed_first_idx()
            full_pix = torch.full_like(pix, -1)
            for b, s in enumerate(sel):
                hit = pix[b] >= 0
                full_pix[b][hit] = first_full[b] + s[pix[b][hit] - first_band[b]]
            parts.append((full_pix, zbuf, bary, torch.where(pix >= 0, dists / scale**2, dists)))
        pix, zbuf, bary, dists = (torch.cat(t, dim=1) for t in zip(*parts, strict=True))
        return Fragments(pix_to_face=pix, zbuf=zbuf, bary_coords=bary, dists=dists)

    def _in_view(self, vertices: torch.Tensor, cameras: FoVPerspectiveCameras) -> torch.Tensor:
        """(B, F) bool: faces not wholly beyond one image border (those cover no pixel)."""
        h, w = self.image_size
        screen = cameras.transform_points_screen(vertices, image_size=((h, w),))[..., :2]
        tri = screen[:, self.faces]  # (B, F, 3, 2)
        margin = 1.0
        outside = (
            (tri[..., 0] < -margin).all(-1) | (tri[..., 0] > w + margin).all(-1)
            | (tri[..., 1] < -margin).all(-1) | (tri[..., 1] > h + margin).all(-1)
        )  # fmt: skip
        return ~outside

    def textures(self, texture: torch.Tensor, raster: Raster) -> TexturesUV:
        """TexturesUV for a raster's meshes from (H, W, 3) or (B, H, W, 3) maps in [0, 1]."""
        batch = len(raster.face_ids)
        maps = texture if texture.ndim == 4 else texture[None]
        if maps.shape[0] == 1 and batch > 1:
            maps = maps.expand(batch, -1, -1, -1)
        if maps.ndim != 4 or maps.shape[0] != batch or maps.shape[-1] != 3:
            raise ValueError(f"texture must be (H, W, 3) or ({batch}, H, W, 3), got {tuple(texture.shape)}")
        return TexturesUV(
            maps=maps.float().to(self.device),
            faces_uvs=[self.faces_uvs[ids] for ids in raster.face_ids],
            verts_uvs=[self.verts_uvs] * batch,
        )

    def shade(
        self, raster: Raster, texture: torch.Tensor, lights: DirectionalLights | None = None, srgb: bool = False
    ) -> torch.Tensor:
        """Shade a kept raster with a texture -> RGBA (B, 4, H, W) in [0, 1].

        srgb: the texture holds sRGB colours (as image files and glTF base colours do): light them in
        linear space and encode the result as sRGB, as glTF viewers do, so the render and a 3D
        viewer show the same colours. False multiplies the stored values directly.
        """
        meshes = raster.meshes.clone()
        meshes.textures = self.textures(srgb_to_linear(texture) if srgb else texture, raster)
        shader = HardPhongShader(
            device=self.device, cameras=raster.cameras,
            lights=lights if lights is not None else make_lights(device=self.device),
            blend_params=self.blend,
        )  # fmt: skip
        images = shader(raster.fragments, meshes).clamp(0.0, 1.0)  # (B, H, W, 4)
        if srgb:
            hit = (raster.fragments.pix_to_face[..., :1] >= 0).float()  # the background stays as given
            rgb = images[..., :3]
            images = torch.cat([hit * linear_to_srgb(rgb) + (1 - hit) * rgb, images[..., 3:]], dim=-1)
        return images.permute(0, 3, 1, 2)

    def render(
        self,
        vertices: torch.Tensor,
        cameras: FoVPerspectiveCameras,
        texture: torch.Tensor,
        lights: DirectionalLights | None = None,
    ) -> torch.Tensor:
        """Rasterise and shade in one call: vertices (B, V, 3) -> RGBA (B, 4, H, W) in [0, 1]."""
        return self.shade(self.rasterize(vertices, cameras), texture, lights)

    def silhouette(self, vertices: torch.Tensor, cameras: FoVPerspectiveCameras) -> torch.Tensor:
        """Binary silhouettes (B, 1, H, W) in {0, 1}."""
        return self.rasterize(vertices, cameras).mask
