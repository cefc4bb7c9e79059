"""Configuration of GaitNet (Zhang et al., CVPR 2019, "Gait Recognition via Disentangled Representation Learning").

Defaults are the paper's and its authors' CASIA-B code's (../shared/reference/gait.md sections 1.3-1.5):
masked RGB frames at 64x32 (H x W) in [0, 1]; an encoder of four stride-2 4x4 convolutions, each followed
by a 3x3 one (BN + LeakyReLU(0.2) after every convolution; the brief's "version A", the paper's
"stride-2 conv + BN + LReLU"), channels 64-128-256-512, a Linear + BN1d to 320 numbers split into the
appearance feature f_a (256) and the pose feature f_g (64) (the CASIA-B script's split); the mirrored
decoder with a Sigmoid output; a 3-layer LSTM of 256 units over the f_g sequence (the paper's text and
the CASIA-B script); the test embedding is the time-average of the LSTM outputs through BN1d + LeakyReLU;
the identity classifier is Linear + BN1d.

Training (the CASIA-B "cvpr best" script): Adam lr 1e-4, betas (0.9, 0.999), weight decay 1e-3,
the learning rate times 0.9 every 500 iterations; batches of 16 items, each two 20-frame clips of one
subject under different conditions; loss = xrecon + 10 * gait_sim + inc_id.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.config import ConfigMixin, preset
from core.nn.discriminator import DiscriminatorConfig

__all__ = ["GaitNetConfig", "PRESETS"]


def gait_discriminator() -> DiscriminatorConfig:
    """The patch discriminator for 64x32 frames: DG-Net's D at two scales, 16 wide, no residual blocks, without
    the gradient penalty and with Kaiming init (with the official penalty DG-Net's D stayed at chance)."""
    return DiscriminatorConfig(dim=16, n_layer=2, n_res=0, num_scales=2, gp_weight=0.0, init="kaiming")


@dataclass(frozen=True)
class GaitNetConfig(ConfigMixin):
    """Networks, losses, sampling and schedule. ``small`` is the 1-CPU-thread preset, ``tiny`` the tests'."""

    height: int = 64  # input frames are (3, height, width) masked RGB in [0, 1]
    width: int = 32
    base_channels: int = 64  # nf: encoder stages have nf, 2nf, 4nf, 8nf channels (decoder mirrored)
    refine_layers: bool = True  # a 3x3 "vgg" conv after every stride-2 (de)conv (version A)
    appearance_dim: int = 256  # length of f_a
    pose_dim: int = 64  # length of f_g
    # how the decoder doubles H and W: "transpose" (the authors' 4x4 stride-2 transposed convs) or "nearest"
    # (nearest-neighbour upsampling + 3x3 conv: no checkerboard, which a discriminator otherwise brings out)
    decoder_upsample: str = "transpose"
    # The decoder also draws the walker's matte (a 4th Sigmoid channel) and its frame is colour x matte: the
    # matte learns the target frame's silhouette (binary cross-entropy x matte_weight, summed over the frames
    # as L_xrecon), and in eval mode it is cut at 0.5, so the outline is crisp where MSE alone leaves a haze.
    # False: the paper (3 channels, no matte).
    decoder_matte: bool = False
    matte_weight: float = 0.1
    lstm_hidden: int = 256
    lstm_layers: int = 3
    init_std: float = 0.01  # conv / linear weights ~ N(0, 0.01), BN weights ~ N(1, 0.01); the LSTM keeps torch's
    # optimiser and schedule
    lr: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 1e-3
    lr_step: int = 500  # StepLR: lr * lr_gamma every lr_step iterations (0 = constant lr)
    lr_gamma: float = 0.9
    batch_size: int = 16  # items; each item is two clips (A, B) of one subject
    clip_len: int = 20  # consecutive frames per clip
    # losses: total = xrecon_weight * L_xrecon + gait_sim_weight * L_gait-sim + id_weight * L_id-inc-avg
    xrecon_weight: float = 1.0
    gait_sim_weight: float = 10.0
    id_weight: float = 1.0
    # OpenGait's batch-all triplet loss (core.nn.losses.triplet_loss) on the L2-normalised gait feature of every
    # clip (the test compares those by cosine): clips of one walker closer than any other walker's by a margin.
    # Not the paper's (its only identity loss is the classifier's); 0: the paper
    triplet_weight: float = 0.0
    triplet_margin: float = 0.2
    recon_frames: int = 0  # target frames t2 decoded per clip (0 = every frame, the paper's sum over t2)
    recon_both_clips: bool = False  # cross-reconstruct clip B as well as clip A (the code rebuilds A only)
    same_view_pairs: bool = True  # clips A and B share the view (the authors' 90/90 CASIA-B structure)
    # Clothes-swap walks (``--swaps``, cs-NN: a walker's own walk repeated frame for frame in another walker's
    # clothes) join the training walks as a fourth condition type, so gait similarity and the identity loss
    # see one walker in different clothes. This share of the items pairs a cs walk with the walk it repeats,
    # on the same frames, and cross-reconstructs each clip from its own f_a and the *other* clip's f_g: the
    # pose must come from f_g whatever the clothes, the clothes from f_a. 0: the paper (no such pairs).
    aligned_pair_share: float = 0.0
    # Lab colour loss (core.nn.losses.changed_colour_loss) of those cross-decoded frames where the two
    # clips' clothes differ: the clothes' colour must come from f_a (0: the paper)
    colour_weight: float = 0.0
    # Share of clips recoloured as a whole (core.nn.augment.recolour: hues turned by a random angle about the
    # grey axis, brightness x0.7-1.3) before a step: the same walker then appears in random colours, so the
    # identity and gait-similarity losses on f_g cannot lean on the clothes' colours (0: the paper)
    recolour_share: float = 0.0
    # An adversarial loss on the decoded frames (not the paper's, which has none): a patch discriminator
    # (core.nn.discriminator, LSGAN) learns from the first step to tell decoded frames from real ones; from
    # step adv_start the decoder also gets adv_weight x its LSGAN loss (reconstruction first, then sharpness).
    # D's AUC on each batch before its update is logged (dis_auc): 0.5 means it does not take part.
    adv_weight: float = 0.0
    adv_start: int = 0
    adv_frames: int = 32  # decoded frames a step that D and the adversarial term see (drawn at random; 0 = all)
    dis_lr: float = 1e-4  # Adam, betas (0.5, 0.999), no weight decay (coupled decay shrinks an unnormalised D)
    dis: DiscriminatorConfig = field(default_factory=gait_discriminator)
    # From this step on the weights of every step are averaged (uniformly, batch-norm statistics with them:
    # stochastic weight averaging, Izmailov et al. 2018), validation scores the average and final.pt holds the
    # average at the last step instead of the validation pick. 0: the paper (no average; the pick).
    average_from: int = 0
    steps: int = 8000  # the authors' loop never ends; it kept checkpoints up to iteration 8000
    validation_subjects: int = 5  # the last training subjects, held out to select the model
    eval_every: int = 500  # steps between validation scores (the best-scoring weights are kept)
    bf16: bool = True  # bf16 autocast (1.5x faster steps on an AVX512-BF16 CPU; losses in float32)
    channels_last: bool = True  # NHWC convolutions (another 1.1-1.4x on CPU)
    seed: int = 0
    checkpoint_every_s: float = 180.0
    log_every: int = 20
    sample_every: int = 1000  # steps between reconstruction/swap images in run_dir/images (0 = never)

    def validate(self) -> None:
        if (self.height, self.width) != (64, 32):
            raise ValueError(f"GaitNet takes 64x32 masked RGB frames, got {self.height}x{self.width}")
        if self.base_channels < 1 or self.appearance_dim < 1 or self.pose_dim < 1:
            raise ValueError("base_channels, appearance_dim and pose_dim must be >= 1")
        if self.decoder_upsample not in ("transpose", "nearest"):
            raise ValueError(f"decoder_upsample must be 'transpose' or 'nearest', got {self.decoder_upsample!r}")
        if self.lstm_hidden < 1 or self.lstm_layers < 1:
            raise ValueError("lstm_hidden and lstm_layers must be >= 1")
        if self.clip_len < 2:
            raise ValueError(f"clip_len must be >= 2 (cross-reconstruction pairs two frames), got {self.clip_len}")
        if not 0 <= self.recon_frames <= self.clip_len:
            raise ValueError(f"recon_frames must be within 0..clip_len={self.clip_len}, got {self.recon_frames}")
        if self.batch_size < 2:
            raise ValueError("batch_size must be >= 2 (batch norm needs several items)")
        if not 0.0 <= self.aligned_pair_share <= 1.0:
            raise ValueError(f"aligned_pair_share must be within [0, 1], got {self.aligned_pair_share}")
        if self.colour_weight < 0 or (self.colour_weight > 0 and self.aligned_pair_share == 0):
            raise ValueError("colour_weight must be >= 0, and needs aligned pairs (aligned_pair_share > 0)")
        if self.aligned_pair_share > 0 and self.xrecon_weight > 0 and not self.recon_both_clips:
            raise ValueError("aligned_pair_share needs recon_both_clips (each clip is rebuilt in the other's pose)")
        if not 0.0 <= self.recolour_share <= 1.0:
            raise ValueError(f"recolour_share must be within [0, 1], got {self.recolour_share}")
        if self.triplet_weight < 0 or self.triplet_margin <= 0:
            raise ValueError("triplet_weight must be >= 0 and triplet_margin > 0")
        if self.matte_weight < 0:
            raise ValueError(f"matte_weight must be >= 0, got {self.matte_weight}")
        if self.adv_weight < 0 or self.adv_start < 0 or self.adv_frames < 0 or self.dis_lr <= 0:
            raise ValueError("adv_weight, adv_start and adv_frames must be >= 0 and dis_lr > 0")
        if self.adv_weight > 0 and self.xrecon_weight == 0:
            raise ValueError("adv_weight needs decoded frames (xrecon_weight > 0)")
        if self.average_from < 0:
            raise ValueError(f"average_from must be >= 0 (0 = no weight average), got {self.average_from}")
        if self.validation_subjects < 1 or self.eval_every < 1:
            raise ValueError("validation_subjects and eval_every must be >= 1")

    # ------------------------------------------------------------------ derived sizes
    @property
    def channels(self) -> tuple[int, int, int, int]:
        """The encoder's four stage widths (nf, 2nf, 4nf, 8nf); the decoder runs them backwards."""
        nf = self.base_channels
        return (nf, 2 * nf, 4 * nf, 8 * nf)

    @property
    def feature_dim(self) -> int:
        """Length of the encoder's Linear + BN output, f_a and f_g concatenated (320 in the paper)."""
        return self.appearance_dim + self.pose_dim

    @property
    def targets_per_clip(self) -> int:
        """How many frames t2 of a clip are cross-reconstructed in a step."""
        return self.recon_frames or self.clip_len

    # ------------------------------------------------------------------ presets
    @preset("small")
    @classmethod
    def small(cls) -> GaitNetConfig:
        """About 35 minutes on one CPU thread of a shared 2-core machine: 6,500 steps at 0.23-0.42 s each
        (measured while other jobs ran), plus ~26 validations of ~6 s.

        Quarter-width convolutions (nf 16: 16-32-64-128; the 320-d code, the f_a 256 / f_g 64 split and the
        3 x 256 LSTM stay the paper's), batches of 8 items (the paper's 16), and per clip 10 of the 20
        frames cross-reconstructed, for clips A and B (the code rebuilds all frames of A only: the same
        number of decodes, with more bag and coat walks among them). The learning rate is 5x the paper's
        (5e-4, still x0.9 every 500 steps), as the run is short. A 1,500-step pilot reached 0.93 mean
        validation Rank-1 (5 held-out training subjects).
        """
        return cls(base_channels=16, batch_size=8, recon_frames=10, recon_both_clips=True, lr=5e-4, steps=6500,
                   eval_every=250, sample_every=500)  # fmt: skip

    @preset("small-swap")
    @classmethod
    def small_swap(cls) -> GaitNetConfig:
        """The ``small`` model fine-tuned with the clothes-swap walks (``--swaps data/gait-swaps``, warm start
        from the earlier ``small`` model, ``gaitnet-base``): 1,300 steps at half the learning rate, half of the
        items aligned clothes-swap pairs, whose cross-decoded frames also get the Lab colour loss (x2, as
        DG-Net's first paired stage). The checkpoint is chosen by the mean validation Rank-1 of NM, BG, CL
        and the validation walkers' clothes-swap walks (CS). The shipped run was planned for 2,500 steps and
        stopped at 1,300 (33 min on a shared machine): validation peaked at step 750 and fell after it."""
        return replace(cls.small(), steps=1300, lr=2.5e-4, aligned_pair_share=0.5, colour_weight=2.0, eval_every=250)

    @preset("small-cs")
    @classmethod
    def small_cs(cls) -> GaitNetConfig:
        """The ``small`` schedule trained from scratch with the clothes-swap walks (``--swaps data/gait-swaps``,
        no warm start): the gait feature never starts from one that leans on the clothes. A quarter of the
        items are aligned clothes-swap pairs (cross-decoded in each other's pose, with the Lab colour loss
        x2); the rest pair walks of one walker in any two conditions, cs walks among them. Selected by the
        mean validation Rank-1 of NM, BG, CL and CS, as ``small-swap``. Measured (not shipped): 59 min; on the
        test walkers it names the walk's owner of 58% of the clothes-swapped walks (shipped ``small``: 19%)
        at Rank-1 NM / BG / CL 93.2 / 92.2 / 64.8 (the last weights: 93.1 / 92.2 / 77.8)."""
        return replace(cls.small(), aligned_pair_share=0.25, colour_weight=2.0)

    @preset("small-cs-long")
    @classmethod
    def small_cs_long(cls) -> GaitNetConfig:
        """:meth:`small_cs` for 10,000 steps, chosen on 8 validation walkers instead of 5: at 6,500 steps the
        training identity accuracy was still rising, and the 5-walker validation mean moved by up to 5 points
        between checks (its pick was 13 CL points worse on the test walkers than the last weights)."""
        return replace(cls.small_cs(), steps=10000, validation_subjects=8)

    @preset("small-cs-recolour")
    @classmethod
    def small_cs_recolour(cls) -> GaitNetConfig:
        """:meth:`small_cs_long` with every clip recoloured at random (``recolour_share`` 1: hues turned
        about the grey axis, brightness x0.7-1.3, one transform per clip, so clips A and B of a walker differ
        in colour). The gait feature cannot name the clothes' owner by colour; the swap still learns colour
        from f_a, as each clip is rebuilt in its own (recoloured) colours. A departure from the paper, which
        has no colour augmentation."""
        return replace(cls.small_cs_long(), recolour_share=1.0)

    @preset("small-cs-gan")
    @classmethod
    def small_cs_gan(cls) -> GaitNetConfig:
        """Fine-tune a trained ``small-cs`` model (``--warm-start``; the same 5 validation walkers) with the
        patch discriminator: 3,000 steps at half its learning rate, D alone for the first 200 (reconstruction
        first, then the adversarial term at weight 0.05, about a tenth of the cross-reconstruction loss at the
        start). For sharper decoded frames, the swap's outline above all. A departure: the paper has no
        discriminator."""
        return replace(cls.small_cs(), steps=3000, lr=2.5e-4, adv_weight=0.05, adv_start=200)

    @preset("small-cs-finetune")
    @classmethod
    def small_cs_finetune(cls) -> GaitNetConfig:
        """:meth:`small_cs_gan`'s fine-tuning without the discriminator: its ablation (what the longer training
        at half the learning rate does alone)."""
        return replace(cls.small_cs_gan(), adv_weight=0.0, adv_start=0)

    @preset("small-cs-upsample")
    @classmethod
    def small_cs_upsample(cls) -> GaitNetConfig:
        """:meth:`small_cs_long` with the decoder's transposed convolutions replaced by nearest-neighbour
        upsampling + 3x3 convolutions (``decoder_upsample`` "nearest"): the base for a discriminator without the
        checkerboard that ``small-cs-gan`` drew. A departure from the paper's decoder."""
        return replace(cls.small_cs_long(), decoder_upsample="nearest")

    @preset("small-cs-matte")
    @classmethod
    def small_cs_matte(cls) -> GaitNetConfig:
        """:meth:`small_cs_upsample` whose decoder also draws the walker's matte (``decoder_matte``): the
        swap's outline comes from a mask cut at 0.5 instead of a blurred colour haze. A departure from the
        paper's decoder."""
        return replace(cls.small_cs_upsample(), decoder_matte=True)

    @preset("small-cs-matte-triplet")
    @classmethod
    def small_cs_matte_triplet(cls) -> GaitNetConfig:
        """:meth:`small_cs_matte` with OpenGait's batch-all triplet loss (weight 1, margin 0.2, DyGait's) on the
        L2-normalised gait feature of each clip beside the incremental identity loss: 22 training walkers are
        few for a classifier's features to rank unseen walkers well, and the test ranks them by cosine. A
        departure from the paper, whose only identity loss is the classifier's. Measured (not shipped, the gait
        card): with 7 walker-donor swaps the term falls below 0.003 by step 7,000 and the test Rank-1 drops 3-7
        points against :meth:`small_cs_matte` (82.2 / 82.3 / 73.9 at step 10,000) at the same owner share."""
        return replace(cls.small_cs_matte(), triplet_weight=1.0)

    @preset("small-cs-matte-swa")
    @classmethod
    def small_cs_matte_swa(cls) -> GaitNetConfig:
        """:meth:`small_cs_matte` for 20,000 steps whose final weights are the average of every step's from step
        10,000 (``average_from``; the learning rate goes on decaying). Not the paper's. Measured (the gait card,
        7 walker-donor swaps, averaged after the fact over 25 checkpoints of steps 10,300-20,000): clothes-swap
        owner 79.5% against 78.8% for the step-20,000 weights and 76.2% for the validation pick, swap dE 6.6
        against 6.8 and 7.6, Rank-1 88.7 / 88.2 / 77.1 against 89.0 / 87.2 / 75.4."""
        return replace(cls.small_cs_matte(), steps=20000, average_from=10000)

    @preset("small-cs-matte-gan")
    @classmethod
    def small_cs_matte_gan(cls) -> GaitNetConfig:
        """:meth:`small_cs_gan`'s discriminator fine-tune (3,000 steps, half the learning rate, D alone for 200)
        of a trained ``small-cs-matte`` model (``--warm-start``), picked on its 8 validation walkers."""
        return replace(cls.small_cs_gan(), decoder_upsample="nearest", decoder_matte=True, validation_subjects=8)

    @preset("small-cs-matte-finetune")
    @classmethod
    def small_cs_matte_finetune(cls) -> GaitNetConfig:
        """:meth:`small_cs_matte_gan` without the discriminator: 3,000 more steps at half the learning rate."""
        return replace(cls.small_cs_matte_gan(), adv_weight=0.0, adv_start=0)

    @preset("tiny")
    @classmethod
    def tiny(cls) -> GaitNetConfig:
        """For tests: narrow networks, short clips, a few steps. Weights start at N(0, 0.05): with the paper's
        0.01 the true activation variances are ~1e-4 while batch norm's running variances start at 1, and
        the ~50 updates of a test run leave them far off, so eval-mode features collapse."""
        return cls(base_channels=8, appearance_dim=16, pose_dim=8, lstm_hidden=16, lstm_layers=2, batch_size=4,
                   clip_len=6, recon_frames=3, recon_both_clips=True, bf16=False, channels_last=False, lr=1e-3,
                   lr_step=0, weight_decay=0.0, init_std=0.05, steps=4, eval_every=2, validation_subjects=3,
                   log_every=1, sample_every=2, checkpoint_every_s=3600.0)  # fmt: skip

    @preset("tiny-gan")
    @classmethod
    def tiny_gan(cls) -> GaitNetConfig:
        """:meth:`tiny` with a one-scale, 8-wide discriminator that sees 8 of the decoded frames a step and whose
        adversarial term starts at step 2 (tests)."""
        dis = replace(gait_discriminator(), dim=8, num_scales=1)
        return replace(cls.tiny(), adv_weight=0.1, adv_start=2, adv_frames=8, dis=dis)


PRESETS = GaitNetConfig.preset_names()
