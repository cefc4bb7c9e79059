"""DataStudio: what the Data Studio tab does, without any UI.

Pick an identity seed, change one factor at a time and see the picture; see one identity across
the re-ID cameras and the gait views; pack a small sample dataset for download.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from core.checks import check_range, check_seed
from core.data.opengait import CASIA_B_CONDITIONS, CASIA_B_VIEWS, cut_silhouette, normalise_silhouette
from core.synth.engine import shared_renderer
from core.synth.gait_set import GaitConfig, gait_nuisances, masked_rgb
from core.synth.identity import sample_identity
from core.synth.nuisance import BACKGROUNDS, BAGS, OCCLUDERS, POSES, Nuisance
from core.synth.reid_set import ReidConfig, camera_specs, reid_nuisance, write_reid

MAX_SEED = 10_000_000
# one camera or detector effect at a time, at the strength the re-ID set uses at its strongest
CAPTURES: dict[str, dict] = {
    "clean": {},
    "low resolution": {"low_res": 2.6},
    "motion blur": {"motion_blur": 4.0, "motion_angle": 10.0},
    "noisy sensor": {"noise": 0.05},
    "warm, dark camera": {"white_balance": (1.1, 1.0, 0.88), "exposure": -0.4, "gamma": 0.9},
    "faded colours": {"saturation": 0.6},
    "cut-off box": {"shift": (0.0, 0.2)},
    "loose, wide box": {"zoom": 0.85, "stretch": 1.3},
}


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _check_seed(name: str, seed) -> int:
    return check_seed(name, seed, MAX_SEED)


class DataStudio:
    """Factor-at-a-time rendering for the Data Studio tab (and scripts)."""

    def __init__(self, image_size: tuple[int, int] = (256, 128)) -> None:
        self.image_size = image_size

    def nuisance(
        self,
        azimuth: float = 0.0,
        elevation: float = 10.0,
        light_azimuth: float = 30.0,
        light_intensity: float = 0.55,
        background: str = "street",
        scene_seed: int = 0,
        phase: float = 0.0,
        bag: str = "none",
        coat: bool = False,
        pose: str = "walk",
        occluder: str = "none",
        capture: str = "clean",
    ) -> Nuisance:
        """A nuisance from the tab's controls (angles in degrees); raises ValueError on bad input.

        pose: one of POSES; occluder: one of OCCLUDERS; capture: one of CAPTURES (a camera or
        detector effect, shown one at a time)."""
        if background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {', '.join(BACKGROUNDS)}")
        if bag not in BAGS:
            raise ValueError(f"bag must be one of {', '.join(BAGS)}")
        for name, value, options in (("pose", pose, POSES), ("occluder", occluder, OCCLUDERS),
                                     ("capture", capture, tuple(CAPTURES))):  # fmt: skip
            if value not in options:
                raise ValueError(f"{name} must be one of {', '.join(options)}")
        azimuth = check_range("azimuth", azimuth, -360.0, 360.0)
        elevation = check_range("elevation", elevation, -89.0, 89.0)
        light_intensity = check_range("light intensity", light_intensity, 0.0, 1.5)
        phase = check_range("walk phase", phase, 0.0, 0.999)
        la = np.radians(check_range("light azimuth", light_azimuth, -360.0, 360.0))
        direction = (float(np.sin(la)), 0.8, float(np.cos(la)))
        return Nuisance(
            azimuth=azimuth, elevation=elevation, distance=6.0, framing=0.9,
            light_direction=direction, light_intensity=light_intensity, background=background,
            seed=_check_seed("scene seed", scene_seed), phase=phase, bag=bag, coat=bool(coat), pose=pose,
            turn=0.6 if pose == "turn" else 0.0, occluder=occluder, occluder_seed=_check_seed("scene seed", scene_seed),
            noise_seed=_check_seed("scene seed", scene_seed), **CAPTURES[capture],
        )  # fmt: skip

    def render(self, identity_seed: int, nuisance: Nuisance, clothes_seed: int | None = None) -> np.ndarray:
        """(H, W, 3) uint8 picture of a person, optionally wearing another seed's clothes."""
        ident = sample_identity(_check_seed("identity seed", identity_seed))
        if clothes_seed is not None and _check_seed("clothes seed", clothes_seed) != ident.seed:
            ident = ident.with_clothes_of(sample_identity(_check_seed("clothes seed", clothes_seed)))
        return _to_uint8(shared_renderer().render([ident], [nuisance], self.image_size).image[0])

    def reid_cameras(self, identity_seed: int, dataset_seed: int = 0) -> list[tuple[np.ndarray, str]]:
        """The identity seen by each of the re-ID set's cameras: (image, caption) pairs."""
        identity_seed = _check_seed("identity seed", identity_seed)
        ident = sample_identity(identity_seed)
        specs = camera_specs(ReidConfig(seed=dataset_seed))
        nuisances = [reid_nuisance(s, np.random.default_rng([identity_seed, s.index]))
                     for s in specs]  # fmt: skip
        pic = shared_renderer().render([ident] * len(specs), nuisances, (128, 64))
        return [(_to_uint8(img), f"camera {s.index}") for img, s in zip(pic.image, specs, strict=True)]

    def gait_views(self, identity_seed: int, condition: str = "nm-01", phase: float = 0.3):
        """The identity at one walk phase from CASIA-B's 11 views, as the gait set stores them:
        (silhouette 64x44, masked RGB 64x32, caption)."""
        seed = _check_seed("identity seed", identity_seed)
        if condition not in CASIA_B_CONDITIONS:
            raise ValueError(f"condition must be one of {', '.join(CASIA_B_CONDITIONS)}")
        ident, cfg = sample_identity(seed), GaitConfig(frames=1)
        phase = check_range("walk phase", phase, 0.0, 0.999)
        nuisances = [replace(gait_nuisances(ident, cfg, seed, condition, v)[0], phase=phase) for v in CASIA_B_VIEWS]
        pic = shared_renderer().render([ident] * len(nuisances), nuisances, cfg.render_size)
        out = []
        for img, mask, view in zip(pic.image, pic.mask, CASIA_B_VIEWS, strict=True):
            sil = normalise_silhouette(mask[0].numpy() > 0.5)
            sil = np.zeros((64, 44), np.uint8) if sil is None else cut_silhouette(sil)
            out.append((sil, masked_rgb(img, mask, GaitConfig.rgb_size), f"{view} deg"))
        return out

    def sample_zip(self, dataset_seed: int = 0, people: int = 2, out_dir: str | Path | None = None) -> Path:
        """A zip of a tiny Market-1501-style set (``people`` train and test ids) in ``out_dir``
        (a new temporary folder if None). Only the zip is left behind."""
        cfg = ReidConfig(
            train_ids=people, test_ids=people, distractors=2, junk=2, seed=_check_seed("dataset seed", dataset_seed)
        )
        out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="disentangle-sample-"))
        with tempfile.TemporaryDirectory(dir=out) as work:
            write_reid(Path(work) / "market_sample", cfg)
            archive = shutil.make_archive(str(Path(work) / "market_sample"), "zip", work, "market_sample")
            return Path(shutil.move(archive, out / "market_sample.zip"))
