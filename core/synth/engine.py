"""PersonRenderer: identities x nuisances -> labelled pictures, with every factor known.

Geometry: the body (shape from the identity, pose from the nuisance), a coat's bulk as rest-pose
offsets along the normals, and a bag as a box rigidly attached to a joint. The bag is always part
of the mesh, so every picture has one topology (batches render in one call): without a bag its
box is collapsed to a point inside the torso, where it covers no pixel.

Texture: the identity's painted UV map beside a strip for the bag's colour.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from pytorch3d.renderer import DirectionalLights
from pytorch3d.structures import Meshes

from core.body import BodyModel, a_pose, walk_pose
from core.body.head import HeadModel, load_head
from core.body.skeleton import JOINT_NAMES
from core.render.scene import BodyRenderer, Raster, make_cameras
from core.synth.atlas import TexelAtlas, build_atlas
from core.synth.identity import Identity
from core.synth.nuisance import Nuisance, make_background
from core.synth.paint import BodyRegions, paint_texture

# a closed box: 8 corners, 12 triangles with outward normals
_BOX_CORNERS = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
_BOX_FACES = np.array(
    [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
     [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]
)  # fmt: skip
TEXTURE_CACHE = 32  # painted identity maps kept (3 MB each at 512 texels)
BAG_STRIP = 0.2  # fraction of the texture width that holds the bag's colour
STAND_ARM_ANGLE = 75.0  # degrees below horizontal: arms relaxed at the sides


@dataclass
class Picture:
    """A rendered batch: image (B, 3, H, W) in [0, 1] with background; mask (B, 1, H, W) in {0, 1}."""

    image: torch.Tensor
    mask: torch.Tensor
    raster: Raster


class PersonRenderer:
    """Renders synthetic people. Keeps the body model, a texel atlas and painted textures.

    Args:
        body: the body model (default: the shipped one).
        texture_size: side of the painted UV map.
    """

    def __init__(self, body: BodyModel | None = None, texture_size: int = 512) -> None:
        self.body = body if body is not None else BodyModel()
        self.texture_size = texture_size
        self._atlas: TexelAtlas | None = None
        self._textures: OrderedDict[tuple[int, bool, Identity], torch.Tensor] = OrderedDict()
        self._texture_lock = threading.Lock()
        self._renderers: dict[tuple[int, int, bool], BodyRenderer] = {}
        self._head: HeadModel | bool | None = None
        v = self.body.num_vertices
        self.faces = torch.cat([self.body.faces, torch.as_tensor(_BOX_FACES) + v])
        uv_scale = torch.tensor([1.0 - BAG_STRIP, 1.0])
        bag_uv = torch.tensor([[1.0 - BAG_STRIP / 2, 0.5]])
        self.verts_uvs = torch.cat([self.body.verts_uvs * uv_scale, bag_uv])
        self.faces_uvs = torch.cat(
            [
                self.body.faces_uvs,
                torch.full((len(_BOX_FACES), 3), len(self.body.verts_uvs), dtype=torch.long),
            ]
        )
        self._coat_weight: torch.Tensor | None = None

    @property
    def atlas(self) -> TexelAtlas:
        if self._atlas is None:
            self._atlas = build_atlas(self.body, self.texture_size)
        return self._atlas

    def renderer(self, image_size: tuple[int, int], head: bool = False) -> BodyRenderer:
        """Renderer of the body + bag topology, or of the full-resolution head, at a size."""
        key = (int(image_size[0]), int(image_size[1]), head)
        if key not in self._renderers:
            if head:
                h = self.head
                self._renderers[key] = BodyRenderer(h.faces, h.verts_uvs, h.faces_uvs, key[:2])
            else:
                self._renderers[key] = BodyRenderer(self.faces, self.verts_uvs, self.faces_uvs, key[:2])
        return self._renderers[key]

    # --- texture -----------------------------------------------------------------------------
    def body_texture(self, identity: Identity, coat: bool = False) -> torch.Tensor:
        """The identity's painted UV map (S, S, 3), cached."""
        key = (identity.seed, coat, identity)
        with self._texture_lock:
            texture = self._textures.get(key)
            if texture is not None:
                self._textures.move_to_end(key)
                return texture
        texture = torch.from_numpy(paint_texture(identity, self.atlas, coat))
        with self._texture_lock:  # least recently used out: each map is 3 MB, so the cache stays ~100 MB
            self._textures[key] = texture
            while len(self._textures) > TEXTURE_CACHE:
                self._textures.popitem(last=False)
        return texture

    def texture(self, identity: Identity, nuisance: Nuisance) -> torch.Tensor:
        """Body map with the bag strip appended on the right: (S, S * (1 + strip), 3)."""
        body = self.body_texture(identity, nuisance.coat)
        s = body.shape[0]
        strip_w = round(s * BAG_STRIP / (1.0 - BAG_STRIP))
        strip = torch.tensor(nuisance.bag_colour, dtype=torch.float32).expand(s, strip_w, 3)
        return torch.cat([body, strip], dim=1)

    # --- geometry ----------------------------------------------------------------------------
    def coat_weight(self) -> torch.Tensor:
        """(V,) how much of a coat's bulk each vertex gets (torso, arms, upper thighs)."""
        if self._coat_weight is None:
            r = BodyRegions.from_atlas(self.atlas)
            v = self.body.v_template
            x, y = v[:, 0].abs(), v[:, 1]
            on_arm = (x > r.shoulder_x - 0.01) & (y > r.waist_y + 0.1)
            arm_t = (x - r.shoulder_x) / (r.wrist_x - r.shoulder_x)
            leg_s = (r.hip_y - y) / (r.hip_y - r.ankle_y)
            torso = (~on_arm) & (y < r.neck_y - 0.02) & (leg_s < 0.4)
            sleeve = on_arm & (arm_t < 0.95)
            self._coat_weight = (torso | sleeve).float() * torch.where(on_arm, 0.6, 1.0)
        return self._coat_weight

    def _coat_offsets(self, betas: torch.Tensor, coat: torch.Tensor) -> torch.Tensor:
        v_shaped, _ = self.body.rest_shape(betas)
        faces = self.body.faces[None].expand(len(betas), -1, -1)
        normals = Meshes(verts=v_shaped, faces=faces).verts_normals_padded()
        thickness = 0.03 * coat.float()[:, None, None]
        return normals * self.coat_weight()[None, :, None] * thickness

    def _bag_vertices(self, betas: torch.Tensor, transforms: torch.Tensor, bags: list[str]) -> torch.Tensor:
        """(B, 8, 3) posed bag corners (collapsed inside the torso when there is no bag)."""
        v_shaped, joints = self.body.rest_shape(betas)
        out = []
        spine3, pelvis = JOINT_NAMES.index("spine3"), JOINT_NAMES.index("pelvis")
        for b, kind in enumerate(bags):
            j = joints[b]
            if kind == "backpack":
                centre_y = float(j[spine3, 1]) - 0.1
                band = (v_shaped[b, :, 1] - centre_y).abs() < 0.05
                back_z = float(v_shaped[b, band & (v_shaped[b, :, 0].abs() < 0.12), 2].min())
                size, centre, k = (
                    torch.tensor([0.3, 0.38, 0.14]),
                    torch.tensor([0.0, centre_y, back_z - 0.075]),
                    spine3,
                )
            elif kind == "satchel":
                side = float(j[JOINT_NAMES.index("left_hip"), 0]) + 0.13  # hangs at the left hip
                size = torch.tensor([0.08, 0.26, 0.32])
                centre, k = torch.tensor([side, float(j[pelvis, 1]) - 0.02, 0.0]), pelvis
            else:
                size, centre, k = torch.zeros(3), j[spine3], spine3
            rest = torch.as_tensor(_BOX_CORNERS, dtype=torch.float32) * size + centre
            homo = torch.cat([rest, torch.ones(8, 1)], 1)
            out.append((transforms[b, k] @ homo.T).T[:, :3])
        return torch.stack(out)

    def _pose(self, identities: list[Identity], nuisances: list[Nuisance]):
        betas = torch.tensor([i.betas for i in identities], dtype=torch.float32)
        poses = []
        for ident, n in zip(identities, nuisances, strict=True):
            poses.append(walk_pose(n.phase, ident.gait) if n.pose == "walk" else a_pose(STAND_ARM_ANGLE))
        coat = torch.tensor([n.coat for n in nuisances])
        offsets = self._coat_offsets(betas, coat) if bool(coat.any()) else None
        with torch.no_grad():
            return betas, self.body(betas=betas, body_pose=torch.cat(poses), vertex_offsets=offsets)

    def geometry(self, identities: list[Identity], nuisances: list[Nuisance]) -> torch.Tensor:
        """Posed vertices (B, V + 8, 3) of bodies and bags."""
        betas, out = self._pose(identities, nuisances)
        with torch.no_grad():
            bag = self._bag_vertices(betas, out.transforms, [n.bag for n in nuisances])
        return torch.cat([out.vertices, bag], dim=1)

    @property
    def head(self) -> HeadModel | None:
        """The full-resolution head for close-ups (None with the official SMPL body)."""
        if self._head is None:
            self._head = load_head(self.body) or False
        return self._head or None

    def head_geometry(self, identities: list[Identity], nuisances: list[Nuisance]) -> torch.Tensor:
        """Posed full-resolution head vertices (B, Vh, 3)."""
        betas, out = self._pose(identities, nuisances)
        with torch.no_grad():
            return self.head(betas, out.transforms)

    # --- pictures ----------------------------------------------------------------------------
    def cameras(
        self,
        vertices: torch.Tensor,
        nuisances: list[Nuisance],
        image_size: tuple[int, int],
        look_at: torch.Tensor | None = None,
        extent: torch.Tensor | None = None,
    ):
        """Cameras that frame each person like a detector crop: the bounding box height (or
        ``extent``) spans ``framing`` of the image height, seen from ``distance``."""
        lo, hi = vertices.min(1).values, vertices.max(1).values
        centre = (lo + hi) / 2 if look_at is None else look_at
        height = (hi - lo)[:, 1] if extent is None else extent
        h, w = image_size
        framing = torch.tensor([n.framing for n in nuisances])
        distance = torch.tensor([n.distance for n in nuisances])
        tan_half = 0.5 * height / framing / distance / max(1.0, h / w)
        return make_cameras(
            azimuth=torch.tensor([n.azimuth for n in nuisances]),
            elevation=torch.tensor([n.elevation for n in nuisances]),
            distance=distance, look_at=centre, fov=torch.rad2deg(2 * torch.atan(tan_half)),
        )  # fmt: skip

    def lights(self, nuisances: list[Nuisance]) -> DirectionalLights:
        d = torch.tensor([n.light_direction for n in nuisances], dtype=torch.float32)
        c = torch.tensor([n.light_colour for n in nuisances], dtype=torch.float32)
        k = torch.tensor([n.light_intensity for n in nuisances])[:, None]
        a = torch.tensor([n.ambient for n in nuisances])[:, None]
        return DirectionalLights(direction=d, diffuse_color=c * k, ambient_color=c * a,
                                 specular_color=torch.zeros_like(c))  # fmt: skip

    def render(
        self,
        identities: list[Identity],
        nuisances: list[Nuisance],
        image_size: tuple[int, int] = (128, 64),
        look_at: torch.Tensor | None = None,
        extent: torch.Tensor | None = None,
        head_only: bool = False,
    ) -> Picture:
        """Render people over their backgrounds, with noise and blur.

        look_at (B, 3) and extent (B,) override the default framing (whole body bounding box).
        head_only renders the full-resolution head (for face close-ups; framed on the head unless
        look_at and extent say otherwise); without one (official SMPL) the body's own head is used.
        """
        if len(identities) != len(nuisances) or not identities:
            raise ValueError("give one nuisance per identity (and at least one)")
        pairs = list(zip(identities, nuisances, strict=True))
        if head_only and self.head is not None:
            verts = frame = self.head_geometry(identities, nuisances)
            renderer = self.renderer(image_size, head=True)
            textures = torch.stack([self.body_texture(i, n.coat) for i, n in pairs])
        else:
            verts = self.geometry(identities, nuisances)
            frame = verts[:, : self.body.num_vertices]  # the body frames the picture, not its bag
            renderer = self.renderer(image_size)
            textures = torch.stack([self.texture(i, n) for i, n in pairs])
        cams = self.cameras(frame, nuisances, image_size, look_at, extent)
        with torch.no_grad():
            raster = renderer.rasterize(verts, cams)
            rgba = renderer.shade(raster, textures, self.lights(nuisances))
        mask = raster.mask
        backgrounds = torch.stack(
            [torch.from_numpy(make_background(n.background, n.seed, image_size)) for n in nuisances]
        ).permute(0, 3, 1, 2)
        image = rgba[:, :3] * mask + backgrounds * (1 - mask)
        image = torch.stack([_sensor(img, n) for img, n in zip(image, nuisances, strict=True)])
        return Picture(image=image, mask=mask, raster=raster)


def _sensor(image: torch.Tensor, n: Nuisance) -> torch.Tensor:
    """Blur and noise of a cheap camera, deterministic in the nuisance seed. image (3, H, W)."""
    if n.blur > 0:
        from torchvision.transforms.functional import gaussian_blur

        k = 2 * int(np.ceil(2 * n.blur)) + 1
        image = gaussian_blur(image[None], [k, k], [n.blur, n.blur])[0]
    if n.noise > 0:
        gen = torch.Generator().manual_seed(int(n.seed) * 7919 + 17)
        image = image + n.noise * torch.randn(image.shape, generator=gen)
    return image.clamp(0.0, 1.0)
