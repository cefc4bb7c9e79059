"""``python -m core eval drgan``: DR-GAN on the held-out identities of a synthetic face set.

* Recognition: f(x) of every probe (all yaws and lights) against one frontal, middle-light gallery face
  per person; Rank-1 per yaw bin and the mean. Baseline: raw pixels.
* Rotation: every test person's middle-light face at every yaw bin, turned to every other bin, against the
  rendered face at that bin (same person, same light):
  SSIM over the image and over the face (both outside the true face's mask set to grey; the
  backgrounds are drawn per image, so no method can know the target's), L1 on the face, the pose
  accuracy of the synthesis by the independent judge (:mod:`core.drgan.judge`), and the identity
  similarity (the judge's features, cosine) of synthesis and true face, and identification: does the judge
  pick the right person among every test person's true face at the target yaw (the cosine alone hides
  this: another person already scores high). Baselines: return the input; return the mirrored input; the
  average training face at the target yaw (pose right, no identity: what a metric that needs no identity
  rewards). Reference: the true face of another person at the same yaw.
* Multi-image gain: 1, 2 and 4 random faces of a person fused (omega-weighted), scored for recognition
  and for rotation as above.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.functional.image import structural_similarity_index_measure

from core.data.face import YAW_BINS
from core.drgan.data import FaceSet, load_face_set
from core.drgan.judge import FaceJudge
from core.drgan.model import DRGAN, fuse_features
from core.synth.face_set import render_faces
from core.synth.identity import sample_identity
from core.synth.nuisance import Nuisance

__all__ = ["DRGANEvalConfig", "evaluate_drgan", "face_masks", "format_report", "judge_identification"]

FRONTAL = YAW_BINS.index(0)
AVERAGE = "average training face at the target yaw (no identity)"


@dataclass(frozen=True)
class DRGANEvalConfig:
    light: int = 1  # the middle light: sources, targets and the gallery
    multi_counts: tuple[int, ...] = (1, 2, 4)
    multi_draws: int = 3  # random sets per person and count
    seed: int = 0


def face_masks(root: str | Path, faces: FaceSet, rows: np.ndarray, load_size: int,
               with_images: bool = False) -> Tensor | tuple[Tensor, Tensor]:  # fmt: skip
    """(len(rows), 1, L, L) in [0, 1]: the rendered person mask of each face (re-rendered from factors.jsonl);
    with ``with_images`` also the re-rendered pictures (len(rows), 3, L, L), which must be the stored ones."""
    root = Path(root)
    factors = {}
    with open(root / "factors.jsonl") as fh:
        for line in fh:
            row = json.loads(line)
            factors[(int(row["id"]), int(row["yaw_bin"]), row["illumination"])] = row
    lights = sorted({k[2] for k in factors})
    masks, images = [], []
    for start in range(0, len(rows), 13):  # a batch per render call (one person's strip in the evaluation)
        chunk = [factors[(int(faces.identities[r]), int(faces.poses[r]), lights[int(faces.lights[r])])]
                 for r in rows[start : start + 13]]  # fmt: skip
        nuisances = [Nuisance(**{k: tuple(v) if isinstance(v, list) else v for k, v in row["nuisance"].items()})
                     for row in chunk]  # fmt: skip
        pic = render_faces([sample_identity(int(row["identity_seed"])) for row in chunk], nuisances, 110)
        masks.append(pic.mask)
        images.append(pic.image)
    masks = F.interpolate(torch.cat(masks), size=(load_size, load_size), mode="bilinear", align_corners=False)
    if with_images:
        return masks, F.interpolate(torch.cat(images), size=(load_size, load_size), mode="bilinear",
                                    align_corners=False, antialias=True)  # fmt: skip
    return masks


def _ssim(a: Tensor, b: Tensor) -> Tensor:
    """Per-image SSIM of two (B, 3, H, W) batches in [0, 1] (torchmetrics, Gaussian window 11, sigma 1.5)."""
    return structural_similarity_index_measure(a.float(), b.float(), data_range=1.0, reduction="none")


def _unit(x: Tensor) -> Tensor:
    return ((x.float() + 1) / 2).clamp(0, 1)


def _judge_input(x: Tensor, size: int) -> Tensor:
    return x if x.shape[-1] == size else F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def _scores(images: Tensor, truth: Tensor, mask: Tensor, targets: Tensor, judge: FaceJudge, judge_size: int,
            truth_embed: Tensor, people_embed: Tensor | None = None, person: int = 0) -> dict[str, Tensor]:  # fmt: skip
    """Per-image scores of images (B, 3, S, S) against truth (B, 3, S, S) in [-1, 1]; mask (B, 1, S, S).

    With ``people_embed`` (P, B, D), every test person's true face at each image's target yaw in the judge's
    features, also ``judge_id``: 1 where the judge's nearest of the P people is ``person``."""
    a, b = _unit(images), _unit(truth)
    grey = torch.full_like(a, 0.5)
    face_a, face_b = a * mask + grey * (1 - mask), b * mask + grey * (1 - mask)
    with torch.no_grad():
        jx = _judge_input(images.float(), judge_size)
        pose = judge.predict_pose(jx)
        embed = judge.embed(jx)
    l1 = ((a - b).abs() * mask).sum((1, 2, 3)) / (3 * mask.sum((1, 2, 3)).clamp_min(1))
    out = {
        "ssim": _ssim(a, b),
        "face_ssim": _ssim(face_a, face_b),
        "face_l1": l1,
        "pose_acc": (pose == targets).float(),
        "identity_sim": (embed * truth_embed).sum(1),
    }
    if people_embed is not None:
        out["judge_id"] = (torch.einsum("bd,pbd->bp", embed, people_embed).argmax(1) == person).float()
    return out


@torch.no_grad()
def judge_identification(model: DRGAN, judge: FaceJudge, judge_size: int, faces: FaceSet, light: int = 1,
                         sources: tuple[int, ...] = (0, 3, 6, 9, 12), seed: int = 0) -> float:  # fmt: skip
    """The share of turned faces the judge names right: each person's face (one light) at each ``sources``
    bin turned to every other bin, against all of ``faces``' people's true faces at that bin (the
    checkpoint selection's score on validation people; the evaluation's "identified by the judge")."""
    model.eval()
    judge.eval()
    size, n_ids, n_poses = model.cfg.image_size, faces.num_ids, faces.num_poses
    light = min(light, faces.num_lights - 1)
    rows = np.array([[faces.row(p, b, light) for b in range(n_poses)] for p in range(n_ids)])
    truth = faces.crop(rows.reshape(-1), size, None, np.zeros(rows.size, bool)).view(n_ids, n_poses, 3, size, size)
    truth_embed = judge.embed(_judge_input(truth.flatten(0, 1), judge_size)).view(n_ids, n_poses, -1)
    gen = torch.Generator().manual_seed(seed)
    hits = []
    for p in range(n_ids):
        f = model.encode(truth[p, list(sources)])[0]
        for k, s in enumerate(sources):
            targets = torch.tensor([t for t in range(n_poses) if t != s])
            synth = model.decode(f[k].expand(len(targets), -1), targets, model.noise(len(targets), gen))
            embed = judge.embed(_judge_input(synth.float(), judge_size))
            hits.append(torch.einsum("bd,pbd->bp", embed, truth_embed[:, targets]).argmax(1) == p)
    return float(torch.cat(hits).float().mean())


def _average_faces(root: str | Path, load_size: int, size: int, light: int, n_poses: int) -> Tensor:
    """(N^p, 3, S, S) in [-1, 1]: the mean training face at each yaw bin in one light (a face with no identity)."""
    train = load_face_set(root, "train", load_size)
    rows = [[train.row(p, b, light) for p in range(train.num_ids) if (p, b, light) in train.index]
            for b in range(n_poses)]  # fmt: skip
    return torch.stack([train.crop(np.array(r), size, None, np.zeros(len(r), bool)).mean(0) for r in rows])


def _fused(f: Tensor, omega: Tensor | None) -> Tensor:
    """One person's features (n, N^f) fused with their confidences (n,) (alike when None) -> (N^f,)."""
    return fuse_features(f[None], (torch.ones(len(f)) if omega is None else omega)[None])[0]


def _rank1(probe: Tensor, probe_ids: Tensor, gallery: Tensor, gallery_ids: Tensor) -> Tensor:
    """(P,) 1 where the nearest gallery feature (cosine) has the probe's identity."""
    sim = F.normalize(probe, dim=1) @ F.normalize(gallery, dim=1).T
    return (gallery_ids[sim.argmax(1)] == probe_ids).float()


@torch.no_grad()
def evaluate_drgan(model: DRGAN, judge: FaceJudge, judge_size: int, root: str | Path,
                   multi_model: DRGAN | None = None, cfg: DRGANEvalConfig | None = None,
                   progress=None) -> dict:  # fmt: skip
    """The report (see the module docstring) as nested dicts of floats."""
    cfg = cfg or DRGANEvalConfig()
    mcfg = model.cfg
    size = mcfg.image_size
    test = load_face_set(root, "test", mcfg.load_size)
    model.eval()
    judge.eval()
    n_ids, n_poses = test.num_ids, test.num_poses
    report: dict = {"people": n_ids, "images": len(test)}

    def crops(rows) -> Tensor:
        rows = np.asarray(rows)
        return test.crop(rows, size, None, np.zeros(len(rows), bool))

    # ---------------------------------------------------------------- recognition
    all_rows = np.arange(len(test))
    feats = torch.cat([model.identity_feature(crops(all_rows[i : i + 256])) for i in range(0, len(test), 256)])
    pixels = torch.cat([crops(all_rows[i : i + 256]).flatten(1) for i in range(0, len(test), 256)])
    gallery_rows = np.array([test.row(p, FRONTAL, cfg.light) for p in range(n_ids)])
    probe_rows = np.setdiff1d(all_rows, gallery_rows)
    recognition = {}
    for name, f in (("DR-GAN f(x)", feats), ("raw pixels (baseline)", pixels)):
        hits = _rank1(f[probe_rows], test.ids[probe_rows], f[gallery_rows], test.ids[gallery_rows])
        bins = test.poses[probe_rows]
        per_bin = {str(YAW_BINS[b]): float(hits[bins == b].mean()) for b in range(n_poses)}
        recognition[name] = {"per_yaw": per_bin, "mean": float(hits.mean())}
    report["recognition"] = recognition
    if progress:
        progress("recognition done")

    # ---------------------------------------------------------------- rotation
    strip_rows = np.array([[test.row(p, b, cfg.light) for b in range(n_poses)] for p in range(n_ids)])  # (P, N^p)
    truth = crops(strip_rows.reshape(-1)).view(n_ids, n_poses, 3, size, size)
    masks = face_masks(root, test, strip_rows.reshape(-1), mcfg.load_size)
    masks = masks[..., (mcfg.load_size - size) // 2 :, (mcfg.load_size - size) // 2 :][..., :size, :size]
    masks = masks.reshape(n_ids, n_poses, 1, size, size)
    truth_embed = judge.embed(_judge_input(truth.flatten(0, 1), judge_size)).view(n_ids, n_poses, -1)
    average = _average_faces(root, mcfg.load_size, size, cfg.light, n_poses)
    gen = torch.Generator().manual_seed(cfg.seed)
    f_all = torch.cat([model.encode(truth[p])[0] for p in range(n_ids)]).view(n_ids, n_poses, -1)
    sums: dict[str, dict[str, list[Tensor]]] = {}
    for p in range(n_ids):
        z = model.noise(1, gen).expand(n_poses, -1)
        for s in range(n_poses):
            targets = torch.tensor([t for t in range(n_poses) if t != s])
            synth = model.decode(f_all[p, s].expand(len(targets), -1), targets, z[: len(targets)])
            src = truth[p, s].expand(len(targets), -1, -1, -1)
            outputs = {"DR-GAN": synth, "input (baseline)": src, "mirrored input (baseline)": src.flip(3)}
            outputs[AVERAGE] = average[targets]
            other = (p + 1) % n_ids
            outputs["another person's true face (reference)"] = truth[other, targets]
            for name, images in outputs.items():
                sc = _scores(images, truth[p, targets], masks[p, targets], targets, judge, judge_size,
                             truth_embed[p, targets], truth_embed[:, targets], p)  # fmt: skip
                for k, v in sc.items():
                    sums.setdefault(name, {}).setdefault(k, []).append(v)
                    sums.setdefault(name + " -> frontal", {}).setdefault(k, []).append(v[targets == FRONTAL])
    rotation = {name: {k: float(torch.cat(v).mean()) for k, v in d.items()} for name, d in sums.items()}
    report["rotation"] = {k: rotation[k] for k in rotation if "frontal" not in k}
    report["rotation_to_frontal"] = {k.replace(" -> frontal", ""): rotation[k] for k in rotation if "frontal" in k}
    report["judge_pose_accuracy_real"] = float((judge.predict_pose(_judge_input(truth.flatten(0, 1), judge_size))
                                                == torch.arange(n_poses).repeat(n_ids)).float().mean())  # fmt: skip
    if progress:
        progress("rotation done")

    # ---------------------------------------------------------------- multi-image gain
    fuser = multi_model or model
    rng = np.random.default_rng(cfg.seed)
    gallery_f = fuser.identity_feature(crops(gallery_rows))
    multi: dict = {}
    others = [b for b in range(n_poses) if b != FRONTAL]
    for k in cfg.multi_counts:
        hits, uniform_hits, scores = [], [], {}
        for _ in range(cfg.multi_draws):
            for p in range(n_ids):
                bins = rng.choice(others, size=k, replace=False)
                x = truth[p, bins]
                (f, w), (f_mirror, w_mirror) = fuser.encode(x), fuser.encode(x.flip(3))
                fused = _fused(f, w)
                probe = F.normalize(fused + _fused(f_mirror, w_mirror), dim=0)
                hits.append(_rank1(probe[None], test.ids[gallery_rows[p : p + 1]], gallery_f, test.ids[gallery_rows]))
                # the same faces averaged alike (no omega): what the learnt confidence has to beat
                uniform = F.normalize(f.mean(0) + f_mirror.mean(0), dim=0)
                uniform_hits.append(_rank1(uniform[None], test.ids[gallery_rows[p : p + 1]], gallery_f,
                                           test.ids[gallery_rows]))  # fmt: skip
                z = fuser.noise(1, gen).expand(n_poses, -1)
                synth = fuser.all_poses(fused, z[0])
                sc = _scores(synth, truth[p], masks[p], torch.arange(n_poses), judge, judge_size, truth_embed[p],
                             truth_embed, p)  # fmt: skip
                for key, v in sc.items():
                    scores.setdefault(key, []).append(v)
        multi[str(k)] = {"rank1": float(torch.cat(hits).mean()), "rank1_uniform": float(torch.cat(uniform_hits).mean())}
        multi[str(k)] |= {key: float(torch.cat(v).mean()) for key, v in scores.items()}
    report["multi_image"] = {"model": "multi-image" if multi_model is not None else "single-image", "by_count": multi}
    return report


def format_report(report: dict) -> str:
    """Markdown tables of :func:`evaluate_drgan`'s report."""
    lines = [f"Held-out people: {report['people']} ({report['images']} faces).", "",
             "Recognition, Rank-1 (%), gallery: one frontal face per person", ""]  # fmt: skip
    yaws = list(next(iter(report["recognition"].values()))["per_yaw"])
    lines.append("| features | " + " | ".join(f"{y}°" for y in yaws) + " | mean |")
    lines.append("|---|" + "---|" * (len(yaws) + 1))
    for name, r in report["recognition"].items():
        cells = [f"{100 * r['per_yaw'][y]:.1f}" for y in yaws] + [f"**{100 * r['mean']:.1f}**"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cols = ("ssim", "face_ssim", "face_l1", "pose_acc", "identity_sim", "judge_id")
    head = ("| method | SSIM | face SSIM | face L1 | pose accuracy (judge) | identity similarity (judge) "
            f"| identified by the judge (of {report['people']}) |")  # fmt: skip
    for title, key in (
        ("Rotation: every yaw to every other yaw", "rotation"),
        ("Rotation to frontal", "rotation_to_frontal"),
    ):
        lines += ["", title, "", head, "|---|---|---|---|---|---|---|"]
        for name, r in report[key].items():
            cells = [f"{r[c]:.3f}" for c in cols[:-1]] + [f"{100 * r[cols[-1]]:.1f}%" if cols[-1] in r else "-"]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"The judge's pose accuracy on the real test faces: {100 * report['judge_pose_accuracy_real']:.1f}%.",
              "", f"Multi-image gain ({report['multi_image']['model']} model; random non-frontal inputs)", "",
              "| inputs | Rank-1 (omega-weighted) | Rank-1 (uniform mean) | face SSIM (13 yaws) | identity similarity "
              "| identified by the judge |", "|---|---|---|---|---|---|"]  # fmt: skip
    for k, r in report["multi_image"]["by_count"].items():
        cells = [f"{100 * r['rank1']:.1f}", f"{100 * r['rank1_uniform']:.1f}", f"{r['face_ssim']:.3f}",
                 f"{r['identity_sim']:.3f}", f"{100 * r['judge_id']:.1f}%"]  # fmt: skip
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
