"""DG-Net configuration: one dataclass whose defaults are the paper's / the official ``configs/latest.yaml``.

Field names follow the official yaml keys where those are plain snake_case, so the two are easy to compare;
:meth:`DGNetConfig.from_official_yaml` and :meth:`DGNetConfig.to_official_yaml` translate the rest
(``ID_class``, ``ID_stride``, ``pool``, ``crop_image_*``, ``dis.LAMBDA``, ``B_w``). Values the official
code accepts but that change the networks in ways not reproduced here (PCB appearance encoder, edge input,
non-local blocks, other decoder types, MLP norms, WGAN/NSGAN) are refused with a message, never ignored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from core.config import ConfigMixin, build_dataclass, preset
from core.nn.blocks import ACTIVATIONS, PAD_TYPES
from core.nn.discriminator import DiscriminatorConfig  # shared with GaitNet
from core.reid.backbone import RESNET_CHANNELS

__all__ = [
    "AppearanceConfig",
    "DGNetConfig",
    "DiscriminatorConfig",
    "GeneratorConfig",
    "LossConfig",
    "PRESETS",
    "TrainConfig",
]

STRUCTURE_INPUTS = ("gray", "highpass")

# The official decoder feeds 4 AdaIN residual blocks (8 AdaIN layers) from 4 MLP pairs, one per quarter of
# the appearance code, and the appearance encoder pools 4 horizontal parts; both numbers are fixed there.
_PARTS = 4
_ADAIN_BLOCKS = 4


@dataclass
class GeneratorConfig(ConfigMixin):
    """Structure encoder, decoder and the AdaIN MLPs (official ``gen:`` block)."""

    dim: int = 16  # width of the first encoder conv; the structure code has dim * 2**(n_downsample+1) channels
    n_downsample: int = 2  # stride-2 stages of the structure encoder (= upsampling stages of the decoder)
    n_res: int = 4  # residual blocks in the structure encoder and AdaIN residual blocks in the decoder
    activ: str = "lrelu"
    pad_type: str = "reflect"
    mlp_dim: int = 512  # hidden width of the 8 AdaIN MLPs
    id_dim: int = 2048  # input width of each MLP = a quarter of the appearance code
    dropout: float = 0.0  # dropout on the structure code at the decoder input
    tanh: bool = False  # official: a tanh at the END OF THE STRUCTURE ENCODER (not on the output image)
    init: str = "kaiming"  # weight init of gen (Kaiming-normal fan_in, biases 0)
    # What E_s sees. "gray" (official): the channel mean, which carries the clothes' absolute lightness into
    # the structure code, so a swap keeps j's light or dark garments. "highpass": gray minus its Gaussian
    # blur at ``highpass_sigma`` px, which keeps edges, folds and the face but not a garment's lightness.
    structure_input: str = "gray"
    highpass_sigma: float = 3.0
    # False (official): G draws every pixel, so j's scene, face and skin must be redrawn from a gray code
    # and i's appearance code, which carry neither their hue nor their noise. True: G also draws a mask
    # (a 1x1 conv beside its last layer) and paints over the picture whose structure it decoded, so the
    # pixels a swap must keep can be kept; the clothes still come from the appearance code alone.
    composite: bool = False


@dataclass
class AppearanceConfig(ConfigMixin):
    """Appearance (ID) encoder, official ``ft_netAB``."""

    backbone: str = "resnet50"
    num_classes: int = 751  # official ``ID_class``: 751 Market-1501, 702 DukeMTMC-reID, 1041 MSMT17
    stride: int = 1  # official ``ID_stride``: stride of layer4's first block
    pool: str = "max"  # part pooling and global pooling, "max" or "avg"
    bottleneck: int = 512  # width of both ID heads' BN bottleneck
    dropout1: float = 0.5  # primary head
    dropout2: float = 0.75  # fine-grained head


@dataclass
class LossConfig(ConfigMixin):
    """Loss weights and their warm-up (official names; ``*_w`` values of 0 are the pre-warm-up start)."""

    recon_x_w: float = 5.0  # self-reconstruction, same image
    recon_xp_w: float = 5.0  # self-identity reconstruction, other image of the same person
    recon_id_w: float = 0.5  # ID loss on generated images
    id_w: float = 1.0  # ID loss on real images
    pid_w: float = 1.0  # ID loss on the positive (same-ID) images
    gan_w: float = 1.0
    recon_s_w: float = 0.0  # structure-code reconstruction, ramps to max_w
    recon_f_w: float = 0.0  # appearance-code reconstruction, ramps to max_w
    recon_x_cyc_w: float = 0.0  # cycle reconstruction, ramps to max_cyc_w
    teacher_w: float = 0.0  # primary feature learning (KL to the teacher), ramps to max_teacher_w
    max_w: float = 1.0
    max_cyc_w: float = 2.0
    max_teacher_w: float = 2.0
    fine_w: float = 0.2  # official ``B_w`` (the paper's alpha): fine-grained feature mining
    warm_iter: int = 30000
    warm_teacher_iter: int = 30000
    warm_scale: float = 0.0005  # added to the ramping weights every iteration after warm-up starts
    erasing_p: float = 0.5  # random erasing on the ID-loss inputs only
    use_encoder_again: float = 0.5  # probability of re-encoding generated images with the trainable E_s
    use_decoder_again: bool = True
    train_bn: bool = True  # BN of the teacher / frozen E_a copy in train mode on generated images
    teacher_style: int = 0  # 0 = soft label averaged over the image and its mirror
    sqrt: bool = False
    vgg_w: float = 0.0
    # ---- departures for small budgets (0 = the paper's setting; see the sharp preset and the model card)
    recon_only_iter: int = 0  # the generator learns only self-reconstruction for this many iterations
    gan_ramp_iter: int = 0  # then the adversarial weight grows linearly from 0 to gan_w over this many
    paired_w: float = 0.0  # L1 of the swap against the RENDERED truth (training people's pairs; not in the paper)
    colour_w: float = 0.0  # Lab colour loss of that swap where the truth changed (core.nn.losses.changed_colour_loss)


@dataclass
class TrainConfig(ConfigMixin):
    """Optimisers, schedule and bookkeeping (official names)."""

    lr_g: float = 1e-4  # Adam, gen
    lr_d: float = 1e-4  # Adam, dis
    lr2: float = 0.002  # SGD, appearance backbone; both ID heads use 10x
    beta1: float = 0.0
    beta2: float = 0.999
    weight_decay: float = 5e-4
    lr_policy: str = "multistep"
    step_size: int = 60000
    gamma: float = 0.1
    gamma2: float = 0.1  # decay of the appearance encoder
    max_iter: int = 100000
    batch_size: int = 8
    snapshot_save_iter: int = 10000
    image_save_iter: int = 5000
    teacher: str = "best"
    # ---- departures for small budgets (the defaults are the paper's)
    beta1_d: float = 0.0  # Adam beta1 of the discriminator (the paper uses beta1 for both)
    weight_decay_d: float = 5e-4  # the discriminator's (coupled) weight decay
    ema: float = 0.0  # decay of an exponential moving average of the generator's weights (0: none)
    freeze_appearance: bool = False  # keep E_a (and its ID heads) fixed: a generator-only stage
    # let the generation losses reach E_a through the appearance code (the official ft_netAB detaches the
    # code, so only the ID losses train E_a); with the paired truth this teaches the code the clothes colour
    appearance_from_swaps: bool = False

    @property
    def lr_milestones(self) -> list[int]:
        """The official multistep milestones: step, 1.5 step, 1.75 step (60k, 90k, 105k by default)."""
        s = self.step_size
        return [s, s + s // 2, s + s // 2 + s // 4]


@dataclass
class DGNetConfig(ConfigMixin):
    """Everything that defines a DG-Net model and its training; defaults = the paper's Market-1501 run.

    Images are ``height`` x ``width`` ImageNet-normalised RGB. The presets (``from_preset(name,
    num_classes=N, ...)``) are :meth:`paper` (these defaults), :meth:`small` (a 2-core CPU),
    :meth:`small_long`, :meth:`small_sharp` and :meth:`tiny` (tests).
    """

    height: int = 256  # official crop_image_height
    width: int = 128  # official crop_image_width
    gen: GeneratorConfig = field(default_factory=GeneratorConfig)
    dis: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    # ------------------------------------------------------------------ derived sizes
    @property
    def backbone_channels(self) -> int:
        """Channels of the appearance backbone's layer4 map (2048 for ResNet-50)."""
        return RESNET_CHANNELS[self.appearance.backbone]

    @property
    def appearance_dim(self) -> int:
        """Length of the appearance code: backbone channels x 4 parts (8192 in the paper)."""
        return self.backbone_channels * _PARTS

    @property
    def parts(self) -> int:
        return _PARTS

    @property
    def structure_channels(self) -> int:
        """Channels of the structure code (128 in the paper)."""
        return self.gen.dim * 2 ** (self.gen.n_downsample + 1)

    @property
    def structure_size(self) -> tuple[int, int]:
        """(H, W) of the structure code: the image size over 2**n_downsample (64x32 in the paper)."""
        f = 2**self.gen.n_downsample
        return self.height // f, self.width // f

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise ValueError naming the field when the combination cannot be built."""
        a, g, d = self.appearance, self.gen, self.dis
        if a.backbone not in RESNET_CHANNELS:
            raise ValueError(f"appearance.backbone={a.backbone!r}; choose one of {sorted(RESNET_CHANNELS)}")
        if a.stride not in (1, 2):
            raise ValueError(f"appearance.stride (ID_stride) must be 1 or 2, got {a.stride}")
        if a.pool not in ("max", "avg"):
            raise ValueError(f"appearance.pool must be 'max' or 'avg', got {a.pool!r}")
        if a.num_classes < 1:
            raise ValueError(f"appearance.num_classes (ID_class) must be >= 1, got {a.num_classes}")
        if g.id_dim != self.backbone_channels:
            raise ValueError(
                f"gen.id_dim={g.id_dim} but a {a.backbone} appearance code splits into 4 quarters of "
                f"{self.backbone_channels}; set gen.id_dim={self.backbone_channels}"
            )
        if g.n_res != _ADAIN_BLOCKS:
            raise ValueError(
                f"gen.n_res={g.n_res}: the DG-Net decoder has {_ADAIN_BLOCKS} AdaIN residual blocks, one per "
                "MLP pair (the official code would silently reuse or drop AdaIN parameters otherwise)"
            )
        if g.n_downsample < 1 or g.dim < 1 or g.mlp_dim < 1:
            raise ValueError("gen.n_downsample, gen.dim and gen.mlp_dim must be >= 1")
        if g.structure_input not in STRUCTURE_INPUTS:
            raise ValueError(f"gen.structure_input={g.structure_input!r}; choose one of {STRUCTURE_INPUTS}")
        if g.highpass_sigma <= 0:
            raise ValueError(f"gen.highpass_sigma must be > 0 px, got {g.highpass_sigma}")
        f = 2**g.n_downsample
        if self.height % f or self.width % f or min(self.height, self.width) < 2 * f:
            raise ValueError(
                f"image size {self.height}x{self.width} must be divisible by 2**n_downsample = {f} "
                "so that the decoder gives back the input size"
            )
        for name, value in (("gen.activ", g.activ), ("dis.activ", d.activ)):
            if value not in ACTIVATIONS:
                raise ValueError(f"{name}={value!r} is not supported; choose one of {ACTIVATIONS}")
        for name, value in (("gen.pad_type", g.pad_type), ("dis.pad_type", d.pad_type)):
            if value not in PAD_TYPES:
                raise ValueError(f"{name}={value!r} is not supported; choose one of {PAD_TYPES}")
        if d.norm not in ("none", "bn", "in", "ln"):
            raise ValueError(f"dis.norm={d.norm!r} is not supported; choose none, bn, in or ln")
        if d.init not in ("gaussian", "kaiming"):
            raise ValueError(f"dis.init={d.init!r}: choose 'gaussian' (the paper's) or 'kaiming'")
        t = self.train
        if not 0.0 <= t.ema < 1.0:
            raise ValueError(f"train.ema={t.ema} must be in [0, 1) (0 turns the average off)")
        if min(self.loss.recon_only_iter, self.loss.gan_ramp_iter, self.loss.paired_w, self.loss.colour_w) < 0:
            raise ValueError("loss.recon_only_iter, gan_ramp_iter, paired_w and colour_w must be >= 0")
        if self.loss.colour_w > 0 and self.loss.paired_w <= 0:
            raise ValueError("loss.colour_w needs the training pairs: set loss.paired_w > 0 too")
        if d.gan_type != "lsgan":
            raise ValueError(f"dis.gan_type={d.gan_type!r}: only 'lsgan' (the paper's) is implemented")
        if d.num_scales < 1 or d.n_layer < 1 or d.dim < 1 or d.n_res < 0:
            raise ValueError("dis.num_scales, dis.n_layer and dis.dim must be >= 1, dis.n_res >= 0")

    # ------------------------------------------------------------------ presets
    @preset("paper")
    @classmethod
    def paper(cls, num_classes: int = 751) -> DGNetConfig:
        """The paper's / official Market-1501 configuration (``num_classes`` identities)."""
        return cls(appearance=AppearanceConfig(num_classes=num_classes))

    @preset("small")
    @classmethod
    def small(cls, num_classes: int = 751) -> DGNetConfig:
        """A configuration a 2-core CPU trains in about 1.5 hours: 128x64 input, ResNet-18 appearance
        encoder, half-width generator and discriminator, 3000 iterations of batch 8.

        ResNet-18 gives 512 channels, so the appearance code is 512 x 4 = 2048 and each MLP takes 512.
        The generator's first width is 8 (structure code 64 x 32 x 16 instead of 128 x 64 x 32), the
        AdaIN MLPs are 256 wide, the discriminator starts at 16 channels with 2 residual blocks: one
        iteration takes 1.7 s instead of 4.4 s at the full widths (bf16, measured on the reference
        machine; ``python -m core bench dgnet``). The warm-up start, ramp length and LR step are
        scaled by the same factor as ``max_iter`` (3000 / 100000), so the schedule has the paper's shape.
        """
        scale = 3000 / 100000
        base = cls()
        return cls(
            height=128,
            width=64,
            gen=replace(base.gen, dim=8, mlp_dim=256, id_dim=RESNET_CHANNELS["resnet18"]),
            dis=replace(base.dis, dim=16, n_res=2),
            appearance=AppearanceConfig(backbone="resnet18", num_classes=num_classes),
            loss=replace(
                base.loss,
                warm_iter=round(base.loss.warm_iter * scale),
                warm_teacher_iter=round(base.loss.warm_teacher_iter * scale),
                warm_scale=base.loss.warm_scale / scale,
            ),
            train=replace(
                base.train,
                max_iter=3000,
                step_size=round(base.train.step_size * scale),
                snapshot_save_iter=500,
                image_save_iter=250,
            ),
        )

    @preset("small-long")
    @classmethod
    def small_long(cls, num_classes: int = 751, max_iter: int = 8000) -> DGNetConfig:
        """:meth:`small` with a longer schedule: ``max_iter`` iterations, the LR step scaled with it
        (the warm-up is the small preset's). Meant to continue a finished small run
        (``python -m core train dgnet --preset small-long --warm-start runs/dgnet/last.pt``): the 3000-step
        schedule ends with blurry swaps on CPU, and the paper's generator trains for 100k iterations."""
        base = cls.small(num_classes)
        return replace(
            base,
            train=replace(base.train, max_iter=max_iter, step_size=round(60000 * max_iter / 100000)),
        )

    @preset("small-sharp")
    @classmethod
    def small_sharp(cls, num_classes: int = 751, max_iter: int = 2000) -> DGNetConfig:
        """:meth:`small`'s networks with a recipe whose swaps are sharp at a CPU budget (issue 20).

        Meant to start from a finished small run's generator and appearance encoder
        (``--init-from checkpoints/dgnet/dgnet.pt``), with training pairs rendered by us
        (``python -m core synth pairs --split train``). Each departure from the paper is a field whose
        default is the paper's (the model card lists them with what was measured):

        - discriminator without the gradient penalty (with it, held-out AUC 0.53 after 200 steps; without
          0.97), Kaiming init, no weight decay, lr 4e-4 with beta1 0.5, so that it leads;
        - staged losses: self-reconstruction alone for 100 iterations (the generator starts trained),
          then the code, cycle and adversarial terms ramped in over 300;
        - an exponential moving average of the generator (decay 0.999) for inference;
        - E_a frozen: the joint run already trained it (Rank-1 95.3); this stage trains the generator;
        - the paired loss: the swap's L1 against the rendered truth for training people, weight 10, and a
          Lab colour loss where that truth differs from the structure picture, weight 2 (with the L1 alone
          at weight 5, 1,000 iterations left the clothes colour where it was: Delta E 18.9 vs 19.3);
        - E_s sees a high-pass of the gray picture (sigma 3 px), not the gray picture: with the official
          gray input, 3,600 iterations of this recipe reached Delta E 14.1 only, because j's garment
          lightness reaches the decoder through the structure code.
        """
        base = cls.small(num_classes)
        start, ramp = 100, 300
        return replace(
            base,
            gen=replace(base.gen, structure_input="highpass", highpass_sigma=3.0, composite=True),
            dis=replace(base.dis, gp_weight=0.0, init="kaiming"),
            loss=replace(
                base.loss,
                recon_only_iter=start,
                gan_ramp_iter=ramp,
                paired_w=10.0,
                colour_w=2.0,
                warm_iter=start,
                warm_teacher_iter=start,
                warm_scale=base.loss.max_cyc_w / ramp,
            ),  # fmt: skip
            train=replace(
                base.train,
                max_iter=max_iter,
                lr_g=2e-4,
                lr_d=4e-4,
                beta1_d=0.5,
                weight_decay=0.0,
                weight_decay_d=0.0,
                ema=0.999,
                freeze_appearance=True,
                step_size=round(max_iter * 2 / 3),
            ),  # fmt: skip
        )

    @preset("tiny")
    @classmethod
    def tiny(cls, num_classes: int = 751) -> DGNetConfig:
        """For tests only: 64x32 images, narrow networks, batch 2, 4 iterations with every loss on from
        iteration 2 (so a short run exercises the whole objective)."""
        base = cls.small(num_classes)
        return cls(
            height=64,
            width=32,
            gen=replace(base.gen, dim=4, mlp_dim=16, n_downsample=1),  # ASPP pads 9: the code needs >= 10 px
            dis=replace(base.dis, dim=4, n_res=1, num_scales=2),
            appearance=base.appearance,
            loss=replace(base.loss, warm_iter=1, warm_teacher_iter=1, warm_scale=1.0),
            train=replace(base.train, max_iter=4, batch_size=2, step_size=3, snapshot_save_iter=2, image_save_iter=2),
        )

    # ------------------------------------------------------------------ official config.yaml
    @classmethod
    def from_official_yaml(cls, cfg: dict[str, Any]) -> DGNetConfig:
        """Translate a parsed official ``config.yaml`` (NVlabs/DG-Net) into a config.

        Read as the official code reads it: ``ID_stride`` defaults to 2 when absent (trainer.py), ``pool`` to
        ``avg`` (``ft_netAB``'s default), ``norm_id`` is accepted and ignored (``ft_netAB`` never uses it);
        absent training keys fall back to our defaults and unknown keys (older config versions) are skipped.
        Anything that would build a different network than ours is refused with the reason.
        """
        if not isinstance(cfg, dict):
            raise ValueError(f"config.yaml must hold a mapping, found {type(cfg).__name__}")
        for key in ("gen", "dis", "ID_class"):
            if key not in cfg:
                raise ValueError(f"config.yaml has no {key!r}; is this a DG-Net config?")
        style, in_dim, single = cfg.get("ID_style", "AB"), cfg.get("input_dim_a", 1), cfg.get("single", "gray")
        _refuse(style != "AB", "ID_style", style, "only 'AB' (ft_netAB) is supported")
        _refuse(in_dim != 1, "input_dim_a", in_dim, "the structure input is the gray image, 1 channel")
        _refuse(single != "gray", "single", single, "only the gray structure input")
        gen_cfg, dis_cfg = dict(cfg["gen"]), dict(cfg["dis"])
        _refuse(gen_cfg.get("dec", "basic") != "basic", "gen.dec", gen_cfg.get("dec"), "only the 'basic' decoder")
        _refuse(gen_cfg.get("non_local", 0) != 0, "gen.non_local", gen_cfg.get("non_local"), "no non-local blocks")
        _refuse(gen_cfg.get("mlp_norm", "none") != "none", "gen.mlp_norm", gen_cfg.get("mlp_norm"), "MLPs without norm")
        _refuse(dis_cfg.get("non_local", 0) != 0, "dis.non_local", dis_cfg.get("non_local"), "no non-local blocks")
        pool = cfg.get("pool", "avg")
        # ft_netAB builds max pools for 'max' and average pools for anything else; only name those two here.
        _refuse(pool not in ("max", "avg"), "pool", pool, "'max' or 'avg'")
        gen = build_dataclass(GeneratorConfig, _pick(gen_cfg, GeneratorConfig), "gen")
        dis_kwargs = _pick(dis_cfg, DiscriminatorConfig)
        if "LAMBDA" in dis_cfg:
            dis_kwargs["gp_weight"] = float(dis_cfg["LAMBDA"])
        dis = build_dataclass(DiscriminatorConfig, dis_kwargs, "dis")
        appearance = AppearanceConfig(
            backbone="resnet50",
            num_classes=_whole(cfg["ID_class"], "ID_class"),
            stride=_whole(cfg.get("ID_stride", 2), "ID_stride"),
            pool=pool,
        )
        loss_kwargs = _pick(cfg, LossConfig)
        if "B_w" in cfg:
            loss_kwargs["fine_w"] = float(cfg["B_w"])
        loss = build_dataclass(LossConfig, loss_kwargs, "loss")
        train = build_dataclass(TrainConfig, _pick(cfg, TrainConfig), "train")
        # the official trainer gives D the same optimiser settings as G
        train = replace(train, beta1_d=train.beta1, weight_decay_d=train.weight_decay)
        return cls(
            height=_whole(cfg.get("crop_image_height", 256), "crop_image_height"),
            width=_whole(cfg.get("crop_image_width", 128), "crop_image_width"),
            gen=gen,
            dis=dis,
            appearance=appearance,
            loss=loss,
            train=train,
        )

    def to_official_yaml(self) -> dict[str, Any]:
        """An official ``config.yaml`` mapping for this config (the keys of ``configs/latest.yaml``).

        Refused for configs the official code cannot build (a backbone other than ResNet-50).
        """
        if self.appearance.backbone != "resnet50":
            raise ValueError(
                f"the official DG-Net code builds only ResNet-50 appearance encoders, not {self.appearance.backbone}"
            )
        gen = {k: v for k, v in asdict(self.gen).items() if k not in _GEN_DEPARTURES}
        gen |= {"dec": "basic", "mlp_norm": "none", "non_local": 0}
        dis = {k: v for k, v in asdict(self.dis).items() if k not in ("gp_weight", "init")}
        dis |= {"LAMBDA": self.dis.gp_weight, "non_local": 0}
        loss = {k: v for k, v in asdict(self.loss).items() if k != "fine_w" and k not in _DEPARTURES}
        out: dict[str, Any] = {
            "apex": False,
            "B_w": self.loss.fine_w,
            "ID_class": self.appearance.num_classes,
            "ID_stride": self.appearance.stride,
            "ID_style": "AB",
            "crop_image_height": self.height,
            "crop_image_width": self.width,
            "data_root": "../Market/pytorch/",
            "dis": dis,
            "display_size": 16,
            "gen": gen,
            "image_display_iter": self.train.image_save_iter,
            "input_dim_a": 1,
            "input_dim_b": 1,
            "log_iter": 1,
            "new_size": 128,
            "norm_id": False,
            "num_workers": 8,
            "pool": self.appearance.pool,
            "single": "gray",
        }
        if self.gen.structure_input != "gray" or self.gen.composite:
            raise ValueError(
                "the official code has no high-pass structure input and no composite: export needs "
                "gen.structure_input 'gray' and gen.composite false"
            )
        out |= loss | {k: v for k, v in asdict(self.train).items() if k not in _DEPARTURES}
        return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


# generator fields with no official yaml key (their defaults are the official behaviour)
_GEN_DEPARTURES = ("structure_input", "highpass_sigma", "composite")

# our fields with no official yaml key (their defaults are the official behaviour)
_DEPARTURES = (
    "recon_only_iter",
    "gan_ramp_iter",
    "paired_w",
    "colour_w",
    "beta1_d",
    "weight_decay_d",
    "ema",
    "freeze_appearance",
    "appearance_from_swaps",
)


def _refuse(condition: bool, key: str, value: Any, supported: str) -> None:
    if condition:
        raise ValueError(f"config.yaml: {key}={value!r} is not supported ({supported})")


def _whole(value: Any, key: str) -> int:
    """``value`` as an int, refusing fractions and non-numbers instead of truncating them."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"config.yaml: {key} must be a whole number, got {value!r}")
    return int(value)


def _pick(source: dict[str, Any], cls: type) -> dict[str, Any]:
    """The entries of ``source`` whose keys are fields of the dataclass ``cls``."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in source.items() if k in names}


PRESETS = DGNetConfig.preset_names()
