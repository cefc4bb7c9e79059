"""Fit our SMPL-compatible body to the person in a real photo (re-ID supervised texture generation),
beside the renderer it draws with. The fit's pieces (result, projection, cameras, priors, soft silhouette)
are in :mod:`core.render.photo_terms`.

A synthetic image comes with its body and camera (:class:`core.data.annotations.Annotation`); a photo
does not, so this module estimates them:

1. :func:`core.render.photo_detect.detect_person` -- 33 pose landmarks and a person mask from MediaPipe
   Pose (the optional ``photo`` extra), in :mod:`core.render.photo_detect`.
2. :func:`fit_body` / :func:`fit_from_keypoints` -- betas, body pose, global orientation and a
   PyTorch3D camera, optimised in three stages: the camera on the torso keypoints (several starting
   azimuths at once, the best kept), then pose and shape on all keypoints, then a PyTorch3D soft
   silhouette against the mask. Priors keep the shape near the mean and the pose near a relaxed
   standing pose, and knees and elbows bend only their own way.
3. :func:`overlay_fit` -- the photo with the fitted body over it, so the user sees what the texture
   was lifted onto.

The fit has exactly the fields of an Annotation (the body at the origin, the camera around it), so a
photo can go wherever a synthetic image's annotation goes.

What fails, said plainly (and reported in :attr:`BodyFit.warnings`): loose clothes, coats, skirts,
bags and hair are outside the naked body, so the silhouette either misses them (they get no texture)
or fattens the body; occluded or cropped limbs are guessed from the standing prior; side views leave
which leg is in front uncertain; a person seen from the back relies on MediaPipe's left/right labels,
which it sometimes swaps; and only one person per photo is fitted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from pytorch3d.renderer import FoVPerspectiveCameras

from core.body import BodyModel
from core.body.skeleton import NUM_BETAS, PARENTS
from core.render.photo_detect import (
    HEAD,
    LEGS,
    MP_LANDMARKS,
    NUM_MP_LANDMARKS,
    TORSO,
    VISIBLE,
    PersonDetection,
    PhotoFitError,
    PoseDetector,
    check_image,
    detect_person,
)
from core.render.photo_terms import (
    BodyFit,
    FitCamera,
    SoftSilhouette,
    body_keypoints,
    camera_centre,
    keypoint_pairs,
    neutral_pose,
    pose_prior,
    prior_stiffness,
    project,
    robust,
    to_ndc,
)
from core.render.scene import BodyRenderer, front_facing

# --- the optimisation --------------------------------------------------------------------------


@dataclass(frozen=True)
class FitWeights:
    """Loss weights of :func:`fit_from_keypoints` (keypoint residuals in image heights)."""

    robust_scale: float = 0.1  # residual (in image heights) beyond which a keypoint stops pulling
    betas: float = 2e-4
    pose: float = 2e-3
    global_orient: float = 2e-3
    elevation: float = 1e-3
    silhouette: float = 0.05


def _check_inputs(keypoints, visibility, mask, image_size) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    kp = torch.as_tensor(np.asarray(keypoints, dtype=np.float32))
    vis = torch.as_tensor(np.asarray(visibility, dtype=np.float32))
    if kp.shape != (NUM_MP_LANDMARKS, 2) or vis.shape != (NUM_MP_LANDMARKS,):
        raise ValueError(
            f"keypoints must be ({NUM_MP_LANDMARKS}, 2) and visibility ({NUM_MP_LANDMARKS},) in MediaPipe "
            f"order; got {tuple(kp.shape)} and {tuple(vis.shape)}"
        )
    target = torch.as_tensor(np.asarray(mask, dtype=np.float32))
    if target.shape != tuple(image_size):
        raise ValueError(f"the mask is {tuple(target.shape)} but image_size is {tuple(image_size)}")
    vis = torch.where(torch.isfinite(kp).all(1), vis.clamp(0.0, 1.0), torch.zeros(()))
    return torch.nan_to_num(kp), vis, target.clamp(0.0, 1.0)


def _initial_cameras(body_out, kp: torch.Tensor, weight: torch.Tensor, image_size, fov: float,
                     azimuths: torch.Tensor) -> FitCamera:  # fmt: skip
    """One camera per starting azimuth (radians), at the distance that gives the torso its size in
    pixels, shifted so the torso centre lands on the detected one. Without a whole torso (a
    portrait, a cropped photo) the spread of the seen keypoints stands in for its size."""
    h, w = image_size
    focal = (min(h, w) / 2) / math.tan(math.radians(fov) / 2)  # pixels per unit of x / z
    points = body_keypoints(body_out.joints, body_out.landmarks)[0]
    torso = [MP_LANDMARKS.index(n) for n in TORSO]
    if bool((weight[torso] > 0).all()):
        top2d, bottom2d = kp[torso[:2]].mean(0), kp[torso[2:]].mean(0)
        top3d, bottom3d = points[torso[:2]].mean(0), points[torso[2:]].mean(0)
        size2d, size3d = float((top2d - bottom2d).norm()), float((top3d - bottom3d).norm())
        centre2d, centre3d = (top2d + bottom2d) / 2, (top3d + bottom3d) / 2
    else:
        seen = weight > 0
        flat2d, flat3d = kp[seen], points[seen]  # the rest body faces the camera: compare x, y
        centre2d, centre3d = flat2d.mean(0), flat3d.mean(0)
        size2d = float((flat2d - centre2d).norm(dim=1).mean())
        size3d = float((flat3d[:, :2] - centre3d[:2]).norm(dim=1).mean())
    distance = focal * size3d / max(size2d, 4.0)
    n = len(azimuths)
    cam = FitCamera(azimuths, torch.full((n,), math.radians(5.0)), torch.full((n,), distance))
    with torch.no_grad():
        view = centre3d @ cam.R()  # (B, 3)
        depth = view[:, 2] + distance
        target = torch.stack([(w / 2 - centre2d[0]), (h / 2 - centre2d[1])]) / focal  # x / z, y / z wanted
        cam.shift.copy_(target[None] * depth[:, None] - view[:, :2])
    return cam


def fit_from_keypoints(
    keypoints: np.ndarray,
    visibility: np.ndarray,
    mask: np.ndarray,
    image_size: tuple[int, int],
    steps: int = 160,
    body=None,
    fov: float = 10.0,
    fit_height: int = 128,
    weights: FitWeights | None = None,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    threads: int | None = 1,
) -> BodyFit:
    """Fit betas, body pose, global orientation and camera to 2D keypoints and a person mask.

    Args:
        keypoints: (33, 2) pixel (x, y) in MediaPipe Pose order; visibility: (33,) in [0, 1] (0 for
            missing ones); mask: (H, W) in [0, 1]; image_size: (H, W).
        steps: optimisation steps in all: 3/8 camera on the torso, 3/8 pose and shape on all
            keypoints, 1/4 with the soft silhouette as well (the costly ones on a CPU).
        body: a :class:`core.body.BodyModel` (default: the shipped one; pass one to save its loading).
        fov: the camera's field of view in degrees over the shorter side (a photo does not say; it
            trades against distance and barely matters for a person crop).
        fit_height: the silhouette is compared at this many rows (CPU cost ~ pixels x faces).
        progress: called as progress(step, steps, {"loss": ...}).
        threads: torch threads during the fit (restored after; None keeps the current setting).
            The fit is thousands of tiny operations on a 3,002-vertex body: one thread is as fast
            on an idle CPU and many times faster on a busy one (measured: 5 s against 26 s beside
            two trainings on 2 cores), where threads wait on each other.
    Returns:
        :class:`BodyFit`. Deterministic: no random numbers are drawn.
    """
    start = time.perf_counter()
    image_size = (int(image_size[0]), int(image_size[1]))
    kp, vis, target = _check_inputs(keypoints, visibility, mask, image_size)
    mp_ids, _, pair_w = keypoint_pairs()
    weight = torch.zeros(NUM_MP_LANDMARKS)
    weight[mp_ids] = pair_w * torch.where(vis[mp_ids] >= 0.3, vis[mp_ids], torch.zeros(()))
    if int((weight > 0).sum()) < 4:
        raise PhotoFitError("too few body keypoints are visible to fit a body (need at least four)")
    body = body if body is not None else BodyModel()
    steps = max(int(steps), 8)
    plan = (steps * 3 // 8, steps * 3 // 8)
    problem = _Problem(kp, vis, weight, target, image_size, fov, weights or FitWeights(), steps, progress)
    with _torch_threads(threads):
        cam = problem.fit_camera(body, plan[0])
        params, losses = problem.fit_body(body, cam, plan[1], steps - sum(plan), fit_height)
        with torch.no_grad():
            out = body(**params)
            R, T = cam.R(), cam.T()
            projected = project(body_keypoints(out.joints, out.landmarks), R, T, fov, image_size)[0]
            fitted_mask = _hard_mask(body, out.vertices, R, T, fov, image_size)
    return _finish(
        params, R, T, fov, image_size, kp, vis, weight, projected, target, fitted_mask,
        time.perf_counter() - start, losses,
    )  # fmt: skip


class _Problem:
    """The targets of one fit and its stages. kp (33, 2) pixels, vis (33,), weight (33,) per
    keypoint (pairing x visibility), target (H, W) person mask."""

    def __init__(self, kp, vis, weight, target, image_size, fov, weights: FitWeights, steps: int, progress) -> None:
        self.kp, self.vis, self.weight, self.target = kp, vis, weight, target
        self.image_size, self.fov, self.w, self.steps, self.progress = image_size, fov, weights, steps, progress
        self.done = 0
        self.neutral = neutral_pose()
        self.stiffness = prior_stiffness()

    def report(self, loss: torch.Tensor) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.steps, {"loss": float(loss.detach().min())})

    def keypoint_loss(self, points: torch.Tensor, cam: FitCamera, weight: torch.Tensor) -> torch.Tensor:
        """(B,) weighted robust reprojection error of body points (B, 33, 3), in image heights."""
        pix = project(points, cam.R(), cam.T(), self.fov, self.image_size)
        rho = robust((pix - self.kp) / self.image_size[0], self.w.robust_scale)
        return (rho * weight).sum(-1) / weight.sum().clamp_min(1e-6)

    def fit_camera(self, body, steps: int) -> FitCamera:
        """Stage 1: the camera on the torso (and the head, whose direction tells front from back)
        from eight azimuths at once, the best kept; the standing body and mean shape stay fixed."""
        with torch.no_grad():
            rest = body(body_pose=self.neutral)
        azimuths = torch.arange(8) * (2 * math.pi / 8)
        cam = _initial_cameras(rest, self.kp, self.weight, self.image_size, self.fov, azimuths)
        weight = torch.zeros(NUM_MP_LANDMARKS)
        for name, share in [(n, 1.0) for n in TORSO] + [(n, 0.3) for n in HEAD]:
            i = MP_LANDMARKS.index(name)
            weight[i] = share * float(self.vis[i]) * float(self.vis[i] >= 0.3)
        if float(weight.sum()) <= 0:  # no torso or head: whatever is seen
            weight = self.weight
        points = torch.nan_to_num(body_keypoints(rest.joints, rest.landmarks)).expand(len(azimuths), -1, -1)

        def loss() -> torch.Tensor:
            return self.keypoint_loss(points, cam, weight) + self.w.elevation * cam.elevation.pow(2)

        opt = torch.optim.Adam(cam.parameters(), lr=0.03)
        sched = _decay(opt, steps)
        for _ in range(steps):
            opt.zero_grad()
            value = loss()
            value.sum().backward()
            opt.step()
            sched.step()
            self.report(value)
        with torch.no_grad():
            return cam.select(int(loss().argmin()))

    def fit_body(self, body, cam: FitCamera, steps: int, silhouette_steps: int, fit_height: int):
        """Stages 2 and 3: pose, shape, orientation and camera on every keypoint, then the soft
        silhouette as well. Returns the body parameters (each (1, D)) and the last loss terms."""
        h, w = self.image_size
        params = {
            "betas": torch.zeros(1, NUM_BETAS, requires_grad=True),
            "body_pose": self.neutral.clone().requires_grad_(True),
            "global_orient": torch.zeros(1, 3, requires_grad=True),
        }
        fit_h = min(int(fit_height), h)
        fit_size = (fit_h, max(8, round(w * fit_h / h)))
        target = F.interpolate(self.target[None, None], size=fit_size, mode="area")[0, 0]
        silhouette = SoftSilhouette(body.faces, fit_size)
        # one optimiser for both stages: a fresh Adam would first move every parameter by a full step
        # whatever its gradient, undoing the keypoint fit the silhouette is meant to refine
        opt = torch.optim.Adam(
            [
                {"params": list(cam.parameters()), "lr": 0.01},
                {"params": [params["global_orient"]], "lr": 0.02},
                {"params": [params["body_pose"]], "lr": 0.03},
                {"params": [params["betas"]], "lr": 0.05},
            ]
        )
        sched = _decay(opt, steps + silhouette_steps)
        terms: dict[str, torch.Tensor] = {}
        for step in range(steps + silhouette_steps):
            opt.zero_grad()
            terms = self.terms(body, cam, params)
            if step >= steps:
                terms["silhouette"] = self.w.silhouette * self.silhouette_loss(body, cam, params, silhouette, target)
            loss = sum(terms.values())
            loss.backward()
            opt.step()
            sched.step()
            self.report(loss)
        return {k: v.detach() for k, v in params.items()}, {k: float(v.detach()) for k, v in terms.items()}

    def terms(self, body, cam: FitCamera, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Keypoint reprojection and the priors, each a scalar."""
        out = body(**params)
        points = torch.nan_to_num(body_keypoints(out.joints, out.landmarks))
        return {
            "keypoints": self.keypoint_loss(points, cam, self.weight)[0],
            "betas": self.w.betas * params["betas"].pow(2).sum(),
            "pose": self.w.pose * pose_prior(params["body_pose"], self.neutral, self.stiffness)[0],
            "global_orient": self.w.global_orient * params["global_orient"].pow(2).sum(),
            "elevation": self.w.elevation * cam.elevation.pow(2).sum(),
        }

    def silhouette_loss(self, body, cam: FitCamera, params, silhouette: SoftSilhouette, target) -> torch.Tensor:
        """1 - soft IoU of the body's soft silhouette and the mask (h, w) at the fit size.

        The silhouette sets the build (betas); the keypoints set the limbs and the camera: its
        gradient (edge pixels only) is too sparse to steer 72 pose angles and only adds noise there."""
        shaped = body(
            betas=params["betas"],
            body_pose=params["body_pose"].detach(),
            global_orient=params["global_orient"].detach(),
        ).vertices
        R, T = cam.R().detach(), cam.T().detach()
        soft = silhouette(to_ndc(shaped, R, T, self.fov)[0], _front_faces(shaped, body.faces, R, T))
        inter = (soft * target).sum()
        return 1.0 - inter / (soft + target - soft * target).sum().clamp_min(1e-6)


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Use ``threads`` torch threads inside (None: leave as is); restore the old count on exit."""
    old = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _decay(opt: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Learning rates falling linearly to a tenth over a stage: Adam's steps shrink, so the last
    parameters are settled rather than jittering by one step size."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 - 0.9 * min(k, steps) / max(steps, 1))


def _front_faces(vertices: torch.Tensor, faces: torch.Tensor, R: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """(F', 3) faces of the first body that face the camera: a closed body's silhouette is the
    same without the others, and the rasteriser's cost halves."""
    with torch.no_grad():
        keep = front_facing(vertices[:1].detach(), faces, camera_centre(R, T)[:1])[0]
    return faces[keep]


def _hard_mask(body, vertices: torch.Tensor, R: torch.Tensor, T: torch.Tensor, fov: float, image_size) -> torch.Tensor:
    """(H, W) binary silhouette of posed vertices (1, V, 3) at the photo's size."""
    cams = FoVPerspectiveCameras(R=R, T=T, fov=fov, znear=0.05, zfar=50.0)
    renderer = BodyRenderer(body.faces, body.verts_uvs, body.faces_uvs, image_size)
    return renderer.rasterize(vertices, cams).mask[0, 0]


def _finish(params: dict[str, torch.Tensor], R, T, fov, image_size, kp, vis, weight, projected, target, fitted_mask,
            seconds: float, losses: dict[str, float]) -> BodyFit:  # fmt: skip
    """Scores and plain-English warnings of a finished fit."""
    person = target > 0.5
    body_px = fitted_mask > 0.5
    inter = float((person & body_px).sum())
    union = float((person | body_px).sum())
    iou = inter / union if union else 0.0
    coverage = inter / float(person.sum()) if bool(person.any()) else 0.0
    inside = inter / float(body_px.sum()) if bool(body_px.any()) else 0.0
    seen = (weight > 0) & (vis >= VISIBLE)
    error = float((projected - kp)[seen].norm(dim=-1).mean()) if bool(seen.any()) else float("nan")
    notes = _warnings(kp, vis, target, coverage, inside, error, image_size)
    f32 = lambda t: t.detach().reshape(-1).numpy().astype(np.float32)  # noqa: E731
    return BodyFit(
        betas=f32(params["betas"]), body_pose=f32(params["body_pose"]), global_orient=f32(params["global_orient"]),
        transl=np.zeros(3, np.float32), R=R[0].detach().numpy().astype(np.float32), T=f32(T[0]), fov=float(fov),
        image_size=image_size, keypoint_error=error, mask_iou=iou, mask_coverage=coverage, warnings=notes,
        keypoints=kp.numpy().astype(np.float32), visibility=vis.numpy().astype(np.float32),
        projected=projected.numpy().astype(np.float32), seconds=seconds, losses=losses,
    )  # fmt: skip


def _warnings(kp, vis, mask, coverage: float, inside: float, error: float, image_size) -> tuple[str, ...]:
    """What the user should know about a fit, in plain words."""
    h, w = image_size
    seen = lambda names: [float(vis[MP_LANDMARKS.index(n)]) >= VISIBLE for n in names]  # noqa: E731
    notes = []
    if not all(seen(LEGS)):
        hidden = sum(1 for s in seen(LEGS) if not s)
        what = "the lower body is not visible" if hidden == len(LEGS) else "part of the legs is not visible"
        notes.append(f"{what} (occluded or cropped): the legs are guessed from a standing pose")
    for side in ("left", "right"):
        if not any(seen((f"{side}_elbow", f"{side}_wrist"))):
            notes.append(f"the {side} arm is hidden: its pose is guessed")
    if coverage < 0.8:
        notes.append(
            f"the fitted body covers only {coverage:.0%} of the person mask: loose clothes, a coat, a bag or "
            "long hair are not modelled, so that part of the photo is not lifted onto the texture"
        )
    if inside < 0.8:
        notes.append(
            f"{1 - inside:.0%} of the fitted body falls outside the person mask: the mask misses part of the "
            "person (occlusion, low contrast) or the pose is off there"
        )
    if math.isfinite(error) and error > 0.04 * h:
        notes.append(f"the keypoints fit poorly (mean error {error:.1f} px): the pose may be unusual or misdetected")
    person = mask > 0.5
    if bool(person[0].any()) or bool(person[-1].any()):
        notes.append("the person touches the top or bottom of the photo: cut-off parts are guessed")
    sh = [MP_LANDMARKS.index(n) for n in ("left_shoulder", "right_shoulder")]
    hp = [MP_LANDMARKS.index(n) for n in ("left_hip", "right_hip")]
    if all(seen(TORSO)):
        width = float((kp[sh[0]] - kp[sh[1]]).norm())
        length = float((kp[sh].mean(0) - kp[hp].mean(0)).norm())
        if width < 0.25 * length:
            notes.append("the person is seen from the side: which arm and leg are in front may be swapped")
    return tuple(notes)


def fit_body(
    detection: PersonDetection,
    image_size: tuple[int, int] | None = None,
    steps: int = 160,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    body=None,
    fov: float = 10.0,
) -> BodyFit:
    """Fit the body to a :class:`PersonDetection` (see :func:`fit_from_keypoints`).

    image_size: (H, W) of the photo; default the mask's size (they must agree)."""
    size = detection.image_size if image_size is None else (int(image_size[0]), int(image_size[1]))
    return fit_from_keypoints(
        detection.keypoints, detection.visibility, detection.mask, size, steps=steps, body=body, fov=fov,
        progress=progress,
    )  # fmt: skip


# --- showing the fit ---------------------------------------------------------------------------


def fitted_body(fit: BodyFit, body) -> tuple[torch.Tensor, torch.Tensor]:
    """Posed vertices (1, V, 3) and joints (1, 24, 3) of a fit."""
    with torch.no_grad():
        out = body(**fit.body_params())
    return out.vertices, out.joints


def overlay_fit(
    image: np.ndarray,
    fit: BodyFit,
    body=None,
    color: tuple[int, int, int] = (40, 200, 255),
    alpha: float = 0.45,
) -> np.ndarray:
    """The photo with the fitted body over it: (H, W, 3) uint8.

    The body's silhouette is tinted in ``color`` with its outline drawn, its skeleton in white,
    detected keypoints as green dots and where the fitted body puts them as red dots, joined by a
    line when they disagree: what the texture was lifted onto, and where it was not.
    """
    image = check_image(image)
    if tuple(image.shape[:2]) != tuple(fit.image_size):
        raise ValueError(f"the photo is {image.shape[:2]} but the fit was made for {fit.image_size}")
    body = body if body is not None else BodyModel()
    h, w = fit.image_size
    vertices, joints = fitted_body(fit, body)
    R, T = torch.from_numpy(fit.R)[None], torch.from_numpy(fit.T)[None]
    with torch.no_grad():
        sil = _hard_mask(body, vertices, R, T, fit.fov, fit.image_size).numpy() > 0.5
        joints2d = project(joints, R, T, fit.fov, fit.image_size)[0].numpy()
    out = image.astype(np.float32)
    out[sil] = (1 - alpha) * out[sil] + alpha * np.asarray(color, np.float32)
    edge = sil & ~_eroded(sil)
    out[edge] = np.asarray(color, np.float32)
    canvas = Image.fromarray(out.round().clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(min(h, w) / 96))
    for child, parent in enumerate(PARENTS):
        if parent >= 0:
            draw.line([tuple(joints2d[parent]), tuple(joints2d[child])], fill=(255, 255, 255), width=width)
    r = max(1.5, min(h, w) / 64)
    mp_ids, _, _ = keypoint_pairs()
    for i in mp_ids.tolist():
        if fit.visibility[i] < VISIBLE:
            continue
        seen, put = fit.keypoints[i], fit.projected[i]
        if np.linalg.norm(seen - put) > r:
            draw.line([tuple(seen), tuple(put)], fill=(255, 230, 0), width=1)
        for (x, y), fill in ((seen, (40, 220, 60)), (put, (235, 40, 40))):
            draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)
    return np.asarray(canvas)


def _eroded(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose four neighbours are all in the mask (the outline is the rest)."""
    padded = np.pad(mask, 1)
    return mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]


def fit_photo(
    image: np.ndarray,
    body=None,
    detector: PoseDetector | None = None,
    steps: int = 160,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> tuple[PersonDetection, BodyFit]:
    """Detect the person in an (H, W, 3) uint8 photo and fit the body: (detection, fit)."""
    detection = detect_person(image, detector)
    return detection, fit_body(detection, steps=steps, progress=progress, body=body)
