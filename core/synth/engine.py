"""PersonRenderer: identities x nuisances -> labelled pictures, with every factor known.

Geometry: the body (shape from the identity, pose from the nuisance), the clothes' bulk as
rest-pose offsets along the normals (:mod:`core.synth.garments`), and extra parts -- bag, skirt,
hair piece, held box (:mod:`core.synth.parts`). Every picture has one topology, so batches render
in one call.

Texture: the identity's painted UV map beside a strip of one colour cell per part.

Capture: the rendered person goes through a detector's box, occluders, the camera's colour
response, resolution, blur and noise (:mod:`core.synth.capture`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
from pytorch3d.renderer import DirectionalLights, FoVPerspectiveCameras
from pytorch3d.structures import Meshes

from core.body import BodyModel
from core.body.head import HeadModel, load_head
from core.body.poses import carry_pose, stand_pose, turn_pose, walk_pose
from core.render.scene import BodyRenderer, Raster, make_cameras
from core.synth.atlas import TexelAtlas, build_atlas
from core.synth.capture import camera_response, degrade, jitter_box, occlude, occluder_layer
from core.synth.garments import body_coords, bulk
from core.synth.identity import Garment, Identity, sample_coat, sample_identity
from core.synth.nuisance import Nuisance, make_background
from core.synth.paint import BodyRegions, hair_mask, paint_texture
from core.synth.parts import PART_CELLS, part_topology, part_vertices

TEXTURE_CACHE = 32  # painted identity maps kept (3 MB each at 512 texels)
PART_STRIP = 0.2  # fraction of the texture width that holds the parts' colour cells
STAND_ARM_ANGLE = 75.0  # degrees below horizontal: arms relaxed at the sides
CUTOUT_SEEDS = tuple(900_000_000 + k for k in range(8))  # passers-by: never a dataset's people
CUTOUTS_KEPT = 4  # image sizes whose passer-by cutouts are kept


@dataclass
class Picture:
    """A rendered batch: image (B, 3, H, W) in [0, 1] with background; mask (B, 1, H, W) in [0, 1]
    (the person after the box jitter, before occluders); params: one dict per picture with the
    body and camera that made it (see :func:`PersonRenderer.render`)."""

    image: torch.Tensor
    mask: torch.Tensor
    raster: Raster
    params: list[dict] = field(default_factory=list)
    clean: torch.Tensor | None = None


def coat_of(identity: Identity, nuisance: Nuisance) -> Garment | None:
    """The coat worn in a picture: None, the person's own, or one drawn from ``coat_seed``."""
    if not nuisance.coat:
        return None
    if nuisance.coat_seed == 0:
        return identity.coat
    return sample_coat(np.random.default_rng([nuisance.coat_seed, 0xC0A7]))


def body_pose(identity: Identity, nuisance: Nuisance) -> torch.Tensor:
    """(1, 69) SMPL body pose of a picture."""
    if nuisance.pose == "walk":
        return walk_pose(nuisance.phase, identity.gait)
    if nuisance.pose == "turn":
        return turn_pose(nuisance.phase, identity.gait, nuisance.turn)
    if nuisance.pose == "carry":
        return carry_pose(nuisance.phase, identity.gait)
    shift = float(np.sin(2 * np.pi * nuisance.phase))  # the phase picks the standing leg and the gaze
    return stand_pose(STAND_ARM_ANGLE, weight_shift=shift, head_turn=nuisance.turn)


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
        self._textures: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self._texture_lock = threading.Lock()
        self._renderers: dict[tuple[int, int, bool], BodyRenderer] = {}
        self._cutouts: OrderedDict[tuple[int, int], list[torch.Tensor]] = OrderedDict()
        self._head: HeadModel | bool | None = None
        self._coords = None
        v = self.body.num_vertices
        part_faces, part_cells, counts = part_topology()
        self.num_part_vertices = sum(counts)
        self.faces = torch.cat([self.body.faces, torch.as_tensor(part_faces) + v])
        uv_scale = torch.tensor([1.0 - PART_STRIP, 1.0])
        cells = len(PART_CELLS)
        cell_uv = torch.tensor([[1.0 - PART_STRIP / 2, 1.0 - (k + 0.5) / cells] for k in range(cells)])
        self.verts_uvs = torch.cat([self.body.verts_uvs * uv_scale, cell_uv])
        first = len(self.body.verts_uvs)
        self.faces_uvs = torch.cat([self.body.faces_uvs, (torch.as_tensor(part_cells) + first)[:, None].expand(-1, 3)])

    @property
    def atlas(self) -> TexelAtlas:
        if self._atlas is None:
            self._atlas = build_atlas(self.body, self.texture_size)
        return self._atlas

    def renderer(self, image_size: tuple[int, int], head: bool = False) -> BodyRenderer:
        """Renderer of the body + parts topology, or of the full-resolution head, at a size."""
        key = (int(image_size[0]), int(image_size[1]), head)
        if key not in self._renderers:
            if head:
                h = self.head
                self._renderers[key] = BodyRenderer(h.faces, h.verts_uvs, h.faces_uvs, key[:2])
            else:
                self._renderers[key] = BodyRenderer(self.faces, self.verts_uvs, self.faces_uvs, key[:2])
        return self._renderers[key]

    # --- texture -----------------------------------------------------------------------------
    def body_texture(self, identity: Identity, coat: Garment | None = None) -> torch.Tensor:
        """The identity's painted UV map (S, S, 3), wearing ``coat`` if given; cached."""
        key = (identity, coat)
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
        """Body map with the parts' colour cells appended on the right: (S, S * (1 + strip), 3)."""
        body = self.body_texture(identity, coat_of(identity, nuisance))
        s = body.shape[0]
        strip_w = round(s * PART_STRIP / (1.0 - PART_STRIP))
        colours = {"bag": nuisance.bag_colour, "skirt": identity.lower.colour, "hair": identity.hair_colour,
                   "held": nuisance.held_colour}  # fmt: skip
        rows = torch.tensor([colours[c] for c in PART_CELLS], dtype=torch.float32)
        strip = rows.repeat_interleave(-(-s // len(PART_CELLS)), 0)[:s, None, :].expand(s, strip_w, 3)
        return torch.cat([body, strip], dim=1)

    # --- geometry ----------------------------------------------------------------------------
    def _vertex_coords(self):
        if self._coords is None:
            r = BodyRegions.from_atlas(self.atlas)
            v = self.body.v_template.numpy()
            self._coords = (r, v, body_coords(v, r))
        return self._coords

    def clothing_offsets(self, identities: list[Identity], nuisances: list[Nuisance], v_shaped: torch.Tensor):
        """(B, V, 3) rest-pose offsets: each vertex pushed out along its normal by its cloth's bulk."""
        r, v, coords = self._vertex_coords()
        amount = []
        for ident, n in zip(identities, nuisances, strict=True):
            scalp = hair_mask(v, ident, self.atlas.landmarks, r)
            amount.append(torch.from_numpy(bulk(ident, coat_of(ident, n), coords, r, scalp)))
        faces = self.body.faces[None].expand(len(identities), -1, -1)
        normals = Meshes(verts=v_shaped, faces=faces).verts_normals_padded()
        return normals * torch.stack(amount)[..., None]

    def _pose(self, identities: list[Identity], nuisances: list[Nuisance]):
        betas = torch.tensor([i.betas for i in identities], dtype=torch.float32)
        poses = torch.cat([body_pose(i, n) for i, n in zip(identities, nuisances, strict=True)])
        with torch.no_grad():
            v_shaped, joints_rest = self.body.rest_shape(betas)
            offsets = self.clothing_offsets(identities, nuisances, v_shaped)
            out = self.body(betas=betas, body_pose=poses, vertex_offsets=offsets)
        return betas, poses, v_shaped, joints_rest, out

    def geometry(self, identities: list[Identity], nuisances: list[Nuisance]) -> torch.Tensor:
        """Posed vertices (B, V + P, 3) of bodies and their parts."""
        return self._geometry(identities, nuisances)[0]

    def _geometry(self, identities: list[Identity], nuisances: list[Nuisance]):
        betas, poses, v_shaped, joints_rest, out = self._pose(identities, nuisances)
        with torch.no_grad():
            parts = part_vertices(identities, [n.bag for n in nuisances], [n.pose == "carry" for n in nuisances],
                                  v_shaped, joints_rest, out.joints, out.transforms)  # fmt: skip
        return torch.cat([out.vertices, parts], dim=1), betas, poses

    @property
    def head(self) -> HeadModel | None:
        """The full-resolution head for close-ups (None with the official SMPL body)."""
        if self._head is None:
            self._head = load_head(self.body) or False
        return self._head or None

    def head_geometry(self, identities: list[Identity], nuisances: list[Nuisance]) -> torch.Tensor:
        """Posed full-resolution head vertices (B, Vh, 3)."""
        betas, _, _, _, out = self._pose(identities, nuisances)
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
        cams = make_cameras(
            azimuth=torch.tensor([n.azimuth for n in nuisances]),
            elevation=torch.tensor([n.elevation for n in nuisances]),
            distance=distance, look_at=centre, fov=torch.rad2deg(2 * torch.atan(tan_half)),
        )  # fmt: skip
        stretch = torch.tensor([n.stretch for n in nuisances])
        if bool((stretch != 1.0).any()):  # a detector box of another aspect, resized to the crop size
            cams = FoVPerspectiveCameras(R=cams.R, T=cams.T, fov=cams.fov, znear=cams.znear, zfar=cams.zfar,
                                         aspect_ratio=1.0 / stretch)  # fmt: skip
        return cams

    def lights(self, nuisances: list[Nuisance]) -> DirectionalLights:
        d = torch.tensor([n.light_direction for n in nuisances], dtype=torch.float32)
        c = torch.tensor([n.light_colour for n in nuisances], dtype=torch.float32)
        k = torch.tensor([n.light_intensity for n in nuisances])[:, None]
        a = torch.tensor([n.ambient for n in nuisances])[:, None]
        return DirectionalLights(direction=d, diffuse_color=c * k, ambient_color=c * a,
                                 specular_color=torch.zeros_like(c))  # fmt: skip

    def person_cutouts(self, image_size: tuple[int, int]) -> list[torch.Tensor]:
        """Passers-by as RGBA layers (4, H, W), for "person" occluders; rendered once per size."""
        key = (int(image_size[0]), int(image_size[1]))
        if key not in self._cutouts:
            people = [sample_identity(s) for s in CUTOUT_SEEDS]
            rng = np.random.default_rng(0xCA7)
            views = [Nuisance(azimuth=float(rng.uniform(0, 360)), phase=float(rng.uniform(0, 1)), elevation=8.0,
                              light_intensity=0.5) for _ in people]  # fmt: skip
            pic = self._render_people(people, views, key)
            self._cutouts[key] = [torch.cat([img * m, m]) for img, m in zip(pic[0], pic[1], strict=True)]
            while len(self._cutouts) > CUTOUTS_KEPT:
                self._cutouts.popitem(last=False)
        return self._cutouts[key]

    def _render_people(self, identities, nuisances, image_size, look_at=None, extent=None, head_only=False):
        """Shaded people without background: rgb (B, 3, H, W), mask (B, 1, H, W), raster, cameras,
        betas, poses."""
        pairs = list(zip(identities, nuisances, strict=True))
        betas = poses = None
        if head_only and self.head is not None:
            verts = frame = self.head_geometry(identities, nuisances)
            renderer = self.renderer(image_size, head=True)
            textures = torch.stack([self.body_texture(i, coat_of(i, n)) for i, n in pairs])
        else:
            verts, betas, poses = self._geometry(identities, nuisances)
            frame = verts[:, : self.body.num_vertices]  # the body frames the picture, not its parts
            renderer = self.renderer(image_size)
            textures = torch.stack([self.texture(i, n) for i, n in pairs])
        cams = self.cameras(frame, nuisances, image_size, look_at, extent)
        with torch.no_grad():
            raster = renderer.rasterize(verts, cams)
            rgba = renderer.shade(raster, textures, self.lights(nuisances))
        return rgba[:, :3], raster.mask, raster, cams, betas, poses

    def render(
        self,
        identities: list[Identity],
        nuisances: list[Nuisance],
        image_size: tuple[int, int] = (128, 64),
        look_at: torch.Tensor | None = None,
        extent: torch.Tensor | None = None,
        head_only: bool = False,
        clean_boxes: bool = False,
    ) -> Picture:
        """Render people over their backgrounds, through the capture chain.

        clean_boxes: also give ``Picture.clean`` -- the same pictures with a tight, hand-drawn box
        (no box jitter, no occluder), as Market-1501's gt_bbox holds.

        look_at (B, 3) and extent (B,) override the default framing (whole body bounding box).
        head_only renders the full-resolution head (for face close-ups; framed on the head unless
        look_at and extent say otherwise); without one (official SMPL) the body's own head is used.

        Picture.params[b]: betas (10,), body_pose (69,), global_orient (3,) = 0 and transl (3,) = 0
        (the body stands at the origin facing +Z; the camera moves around it), the PyTorch3D camera
        R (3, 3) and T (3,) (world -> view, row-vector convention) and fov (degrees, the shorter
        image side), image_size (H, W), and the box jitter applied after projection: a pixel p of
        the projected render lands at c + box_zoom * (p - c) + box_shift * (W, H), c the image
        centre.
        """
        if len(identities) != len(nuisances) or not identities:
            raise ValueError("give one nuisance per identity (and at least one)")
        rgb, mask, raster, cams, betas, poses = self._render_people(
            identities, nuisances, image_size, look_at, extent, head_only
        )
        needs_cutouts = any(n.occluder == "person" for n in nuisances)
        cutouts = self.person_cutouts(image_size) if needs_cutouts else None
        images, masks, params, clean = [], [], [], []
        for b, n in enumerate(nuisances):
            person = torch.cat([rgb[b] * mask[b], mask[b]])
            layer = jitter_box(person, n.shift, n.zoom)
            alpha = layer[3:4].clamp(0, 1)
            background = torch.from_numpy(make_background(n.background, n.seed, image_size, n.crop)).permute(2, 0, 1)
            image = layer[:3] + background * (1 - alpha)
            image = occlude(image, occluder_layer(n.occluder, n.occluder_seed, image_size, cutouts))
            images.append(degrade(camera_response(image, n), n))
            masks.append(alpha)
            if clean_boxes:
                clean.append(degrade(camera_response(person[:3] + background * (1 - person[3:4]), n), n))
            params.append({
                "betas": betas[b].tolist() if betas is not None else list(identities[b].betas),
                "body_pose": poses[b].tolist() if poses is not None else body_pose(identities[b], n)[0].tolist(),
                "global_orient": [0.0, 0.0, 0.0], "transl": [0.0, 0.0, 0.0],
                "R": cams.R[b].tolist(), "T": cams.T[b].tolist(), "fov": float(cams.fov[b]),
                "aspect_ratio": 1.0 / float(n.stretch),
                "image_size": [int(image_size[0]), int(image_size[1])],
                "box_zoom": float(n.zoom), "box_shift": [float(n.shift[0]), float(n.shift[1])],
            })  # fmt: skip
        return Picture(image=torch.stack(images), mask=torch.stack(masks), raster=raster, params=params,
                       clean=torch.stack(clean) if clean else None)  # fmt: skip


_WORKER: dict = {}


def shared_renderer() -> PersonRenderer:
    """The process's PersonRenderer (built once per process: each dataset worker and the app hold one)."""
    if "renderer" not in _WORKER:
        _WORKER["renderer"] = PersonRenderer()
    return _WORKER["renderer"]
