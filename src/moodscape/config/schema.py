"""The one typed configuration schema, one section per concept.

Classes elsewhere take plain typed arguments or their own section; only builders read the whole ``Config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Settings added after stores and run folders were first named by their settings' hash, with the value
    # that behaves as before: left out of hashes while they keep it (config.load.hash_view).
    ADDED_LATER: ClassVar[dict[str, Any]] = {}


class DataConfig(_Section):
    """Where the dataset lives and how its labels read."""

    root: Path | None = None
    layout: Literal["auto", "deam", "emomusic", "csv"] = "auto"
    annotations: Path | None = Field(None, description="DEAM annotations folder when not next to the audio.")
    csv_scale: Literal["1-9", "0-1", "-1-1"] = Field(
        "1-9", description="Scale of valence/arousal columns in a user CSV."
    )


class AudioConfig(_Section):
    """Decoding: target rate, optional excerpt, and what to do with short clips."""

    sample_rate: int = Field(22050, gt=0)
    offset: float = Field(0.0, ge=0.0, description="Seconds skipped at the start of each file.")
    duration: float | None = Field(None, gt=0.0, description="Seconds read; None reads to the end.")
    min_seconds: float = Field(5.0, ge=0.0, description="Clips shorter than this follow short_policy.")
    short_policy: Literal["skip", "pad", "loop"] = "skip"


# soxr's quality for audio at another rate than sample_rate, by features.mode: what a feature store resamples
# with, so what prediction must resample with too (the top mel bands differ between the two).
RESAMPLER_QUALITY = {"exact": "HQ", "fast": "LQ"}


class FeaturesConfig(_Section):
    """Log-mel front end. Saved with every store and checkpoint so that all stages agree."""

    ADDED_LATER: ClassVar[dict[str, Any]] = {"compression": "db"}

    n_fft: int = Field(2048, gt=0)
    hop_length: int = Field(512, gt=0)
    n_mels: int = Field(128, gt=0)
    fmin: float = Field(20.0, ge=0.0)
    fmax: float = Field(8000.0, gt=0.0)
    power: float = Field(2.0, gt=0.0)
    amin: float = Field(1e-10, gt=0.0)
    top_db: float | None = Field(None, description="Per-clip dynamic range clip in dB; None keeps levels absolute.")
    compression: Literal["db", "logc"] = Field(
        "db", description="db: 10 log10(max(amin, mel)); logc: log10(1 + 10000 mel), the input of the "
        "pretrained musicnn networks (with sample_rate 16000, n_fft 512, hop_length 256, n_mels 96, fmin 0).")
    mode: Literal["fast", "exact"] = Field(
        "fast",
        description="exact: soxr HQ resampling then librosa-identical STFT; "
        "fast: STFT at the file's own rate when it is an integer multiple of sample_rate.",
    )
    normalization: Literal["global", "per_clip", "none"] = Field(
        "global", description="global: mean/std per mel band from training songs only."
    )

    @property
    def resampler(self) -> str:
        """soxr's quality for audio at another rate: what a store of these settings resampled with."""
        return RESAMPLER_QUALITY[self.mode]

    @model_validator(mode="after")
    def _check_bands(self) -> FeaturesConfig:
        if self.fmax <= self.fmin:
            raise ValueError(f"features.fmax ({self.fmax}) must be above features.fmin ({self.fmin})")
        return self


class SplitConfig(_Section):
    """Song-level split, drawn once before anything is trained."""

    train: float = Field(0.70, gt=0.0, le=1.0, description="1.0 trains on every song (with val and test 0): the "
                         "final model of a recipe whose quality cross-validation measured, trained with select=last.")
    val: float = Field(0.15, ge=0.0, lt=1.0)
    test: float = Field(0.15, ge=0.0, lt=1.0, description="0 trains on every song (quality then comes from "
                        "cross-validation; evaluate.split must be val).")
    seed: int = 42
    folds: int | None = Field(None, ge=2, description="Also draw k folds over train+val.")

    @model_validator(mode="after")
    def _check_sum(self) -> SplitConfig:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split.train + split.val + split.test must be 1.0, got {total:.4f}")
        return self


class StoreConfig(_Section):
    """Feature store location and parallelism."""

    out_dir: Path = Path("features")
    workers: int | None = Field(None, ge=1, description="Worker processes; None uses every core.")


class BaselineConfig(_Section):
    """The cheap floors every model must beat: a ridge on pooled log-mel statistics, an SVR on librosa descriptors."""

    ADDED_LATER: ClassVar[dict[str, Any]] = {"descriptor_sample_rate": None}

    alphas: list[float] = Field(default_factory=lambda: [0.1, 1.0, 10.0, 100.0, 1000.0])
    descriptor_sample_rate: int | None = Field(
        None, gt=0, description="The rate the descriptor floor decodes audio at (wherever it is fitted: floors, "
        "fusions, and at prediction time); None: the store's audio.sample_rate. Its descriptors (spectral shape, "
        "contrast, chroma, rhythm) reach up to half the rate: on 4q-dev the floor scores 0.656 macro-F1 at 22050 Hz "
        "and 0.617 at 16000 (BENCHMARKS.md).")


class WindowsConfig(_Section):
    """The window every model sees: the teacher, the student (which learns on the teacher's crops) and the GAN."""

    seconds: float = Field(5.0, gt=0.0, description="Window length; rounded to whole frames (and the teacher's patch).")
    eval_hop_seconds: float = Field(2.5, gt=0.0, description="Hop between evaluation windows of a song.")


class RuntimeConfig(_Section):
    """Where and how every trainer runs: the teacher, the student and the GAN."""

    device: str = Field("auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'.")
    threads: int | None = Field(None, ge=1, description="CPU threads for torch; None keeps torch's default.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="Autocast on CUDA only (CPU runs stay fp32 and exact); auto: bf16 where supported."
    )


class DistributedConfig(_Section):
    """How many processes one training run spans (teacher, student and GAN; Lightning Fabric launches them).

    ``teacher.batch_size``, ``student.batch_size`` and ``gan.batch_size`` stay the global batch: each process
    takes its share, so learning rates and schedules mean the same at any world size.
    """

    devices: int = Field(1, ge=1, description="Processes per machine (one per GPU; on CPU they share the cores).")
    num_nodes: int = Field(1, ge=1, description="Machines taking part (started by srun or torchrun on each).")
    strategy: Literal["ddp", "fsdp"] = Field(
        "ddp", description="ddp: a whole copy of the model per process; fsdp: weights, gradients and optimiser state "
        "sharded over the processes (FSDP2; teacher and student)."
    )
    timeout_minutes: float = Field(
        60.0, gt=0, description="How long a process waits for the others (e.g. while process 0 builds the features)."
    )

    @property
    def world_size(self) -> int:
        return self.devices * self.num_nodes


class AugmentConfig(_Section):
    """Training-time augmentation; runs only on training windows."""

    time_masks: int = Field(0, ge=0)
    time_mask_frames: int = Field(20, ge=1)
    freq_masks: int = Field(0, ge=0)
    freq_mask_bins: int = Field(12, ge=1)
    gain_db: float = Field(0.0, ge=0.0, description="Random gain in +-dB before normalisation.")
    mixup_alpha: float = Field(0.0, ge=0.0, description="0 disables mixup.")


class TrainingConfig(_Section):
    """How a window regressor (teacher or student) is trained: optimisation, early stopping, extra windows."""

    ADDED_LATER: ClassVar[dict[str, Any]] = {"precise_bn": 0, "select": "best", "fusion_rule": "weighted"}

    windows_per_song: int = Field(4, ge=1, description="Random windows cropped from each training song per epoch.")
    epochs: int = Field(30, ge=1)
    select: Literal["best", "last"] = Field(
        "best", description="The epoch best/ keeps. best: the highest mean validation CCC (with early stopping after "
        "`patience` epochs without a better one). last: the final epoch of the fixed schedule, the way every "
        "cross-validation fold was trained; needs no validation songs (split.val may be 0), so a model can be trained "
        "on every song exactly as its folds were (validation, when there is any, is still measured each epoch).")
    batch_size: int = Field(32, ge=1)
    lr_backbone: float = Field(3e-4, gt=0.0)
    lr_head: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.05, ge=0.0)
    warmup_epochs: float = Field(1.0, ge=0.0)
    loss: Literal["mse", "ccc", "mse+ccc"] = "mse+ccc"
    grad_accum: int = Field(1, ge=1)
    grad_clip: float | None = Field(1.0, gt=0.0)
    ema_decay: float | None = Field(
        None, ge=0.0, lt=1.0,
        description="Average the weights (EMA, e.g. 0.99); the average is validated and kept as best/. None: off.",
    )  # fmt: skip
    patience: int | None = Field(8, ge=1, description="Early stopping on mean val CCC; None disables (select=last "
                                 "needs None).")
    precise_bn: int = Field(
        0, ge=0, description="Before each validation, recompute batch-norm statistics over this many clean windows of "
        "the training songs (their running averages lag while the weights move); 0: off. Models without batch norm "
        "are unaffected.")
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    synthetic_dir: Path | None = Field(None, description="A store from `moodscape gan generate` to add to training.")
    synthetic_ratio: float = Field(
        0.0, ge=0.0, description="Synthetic windows per real training window and epoch (training set only)."
    )
    fuse_descriptors: bool = Field(
        False, description="Fuse the network's song values with the descriptor floor (an SVR on librosa descriptors "
        "of the training songs): w * network + (1 - w) * floor per dimension; saved in best/fusion/ and used by "
        "evaluate, export and predict. w is chosen on fusion_share of the training songs, held back from the "
        "network (validation CCC, inflated by early stopping, would favour the network).",
    )
    fusion_share: float = Field(0.2, gt=0.0, lt=1.0, description="Training songs held back to choose fusion weights.")
    fusion_rule: Literal["weighted", "equal"] = Field(
        "weighted", description="How fuse_descriptors combines: weighted (w chosen on fusion_share of the training "
        "songs held back from the network) or equal (network and floor weigh the same, fixed before any song is seen; "
        "both learn from every training song). On 4q-dev the equal average cross-validates better (BENCHMARKS.md).")

    @model_validator(mode="after")
    def _check_selection(self) -> TrainingConfig:
        if self.select == "last" and self.patience is not None:
            raise ValueError(f"select=last keeps the final epoch, so early stopping (patience={self.patience}) would "
                             "end the schedule early: set patience to null")  # fmt: skip
        return self


class _TeacherNetwork(_Section):
    ADDED_LATER: ClassVar[dict[str, Any]] = {"head": "pooled", "trainable": "backend"}

    kind: Literal["vit", "ast", "musicnn"] = Field(
        "vit", description="vit or ast: a transformer on log-mel patches; musicnn: the pretrained musicnn tagger "
        "under a valence/arousal head (needs its input: see configs/real-music.yaml).")
    preset: Literal["tiny", "small", "base"] = Field(
        "tiny", description="Transformer size (ViT/AST backbone, or the musicnn teacher's transformer head).")
    pretrained: str = Field(
        "none",
        description="A local folder/file, a Hugging Face Hub name, or 'none' for random initialisation; for "
        "kind musicnn: MSD_musicnn or MTT_musicnn (shipped with moodscape) or a folder.",
    )
    head: Literal["pooled", "transformer"] = Field(
        "pooled", description="musicnn only: pooled (musicnn's own back end and tag logits, then an MLP) or "
        "transformer (a transformer of `preset` size over musicnn's frame features).")
    trainable: Literal["head", "backend", "midend", "all"] = Field(
        "backend", description="musicnn only: what trains besides the head (backend: musicnn's pooled layers; "
        "midend: also its mid-end convolutions; all: everything), at lr_backbone.")
    patch_size: tuple[int, int] = Field((16, 16), description="(mel bins, frames) per patch.")
    freeze_blocks: int = Field(0, ge=0, description="Freeze the patch embedding and the first K blocks.")
    head_hidden: int = Field(128, gt=0)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    pooling: Literal["mean", "cls", "cls+mean"] = Field("mean", description="How tokens become one embedding.")
    out_dir: Path = Field(Path("runs/teacher"), description="Run folder: checkpoints, history, evaluation.")


class TeacherConfig(TrainingConfig, _TeacherNetwork):
    """The teacher: the ViT regressor (builders in moodscape.models read the network fields) and its training."""


class _StudentNetwork(_Section):
    kind: Literal["mobilevit", "mobilevitv2"] = "mobilevit"
    preset: Literal["tiny", "xxs", "xs", "s"] = "xxs"
    pretrained: str = Field(
        "none", description="A local folder, a Hugging Face Hub name (e.g. apple/mobilevit-xx-small), or 'none'."
    )
    head_hidden: int = Field(64, gt=0)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    out_dir: Path | None = Field(None, description="Student run folder; None: <teacher run>/student.")


class StudentConfig(TrainingConfig, _StudentNetwork):
    """The MobileViT student (see moodscape.models.student.mobilevit) and its distillation from the teacher, on the
    teacher's windows."""

    ADDED_LATER: ClassVar[dict[str, Any]] = {"transfer": [], "transfer_ratio": 1.0}

    epochs: int = Field(10, ge=1)
    lr_backbone: float = Field(1e-3, gt=0.0)
    lr_head: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)
    alpha: float = Field(
        0.5, ge=0.0, le=1.0, description="Weight of the label loss; 1 - alpha weights the loss to the teacher."
    )
    feature_weight: float = Field(
        0.0, ge=0.0, description="Weight of feature matching (projected student vs teacher embedding); 0 disables."
    )
    transfer: list[Path] = Field(
        default_factory=list, description="Folders (or files) of audio without labels added to the transfer set: "
        "their windows, every half window, are scored by the teacher alone (feature stores built beside the "
        "training store).")
    transfer_ratio: float = Field(1.0, ge=0.0, description="Unlabelled windows per labelled window and epoch.")


class EvaluateConfig(_Section):
    """Evaluation and reports."""

    split: Literal["val", "test"] = "test"
    quadrant_threshold: float = Field(0.0, description="Boundary between negative and positive, on [-1, 1].")
    bootstrap: int = Field(1000, ge=0, description="Bootstrap resamples of songs for 95% intervals; 0 disables.")
    worst_songs: int = Field(10, ge=0)
    songs: list[str] = Field(
        default_factory=list, description="Named songs (ids) shown one by one in the run report, with audio players."
    )
    floors: list[Literal["ridge", "descriptors"]] = Field(
        default_factory=lambda: ["ridge", "descriptors"],
        description="Cheap floors scored on the same songs beside every evaluation: ridge on pooled log-mel, and "
        "an SVR on librosa descriptors (decodes each clip once; cached in the store). [] scores none.",
    )


class GanConfig(_Section):
    """Conditional GAN augmentation, trained on windows of the training songs only."""

    out_dir: Path = Field(Path("runs/gan"), description="GAN run folder: checkpoints, history, samples.")
    preset: Literal["tiny", "default"] = "default"
    attention: Literal["se", "cbam"] = "se"
    output_limit: float | None = Field(6.0, gt=0.0, description="Soft clamp of generated z-scores; None = linear.")
    loss: Literal["hinge", "wgan-gp"] = "hinge"
    gp_weight: float = Field(10.0, ge=0.0, description="Weight of the gradient penalty (wgan-gp only).")
    d_steps: int = Field(1, ge=1, description="Discriminator steps per generator step.")
    diff_augment: list[Literal["translation", "cutout"]] = Field(
        default_factory=lambda: ["translation", "cutout"],
        description="DiffAugment on real and generated windows before the discriminator (time shift, cutout); "
        "keeps it from memorising a small training set. [] disables.",
    )
    d_pooling: Literal["sum", "mean"] = Field(
        "mean", description="How the discriminator pools its last feature map before scoring. 'sum' (SNGAN) makes "
        "scores grow with the window's area (hundreds on 5 s windows), so the hinge margins saturate at once.",
    )
    latent_film: bool = Field(
        True, description="The generator's FiLM layers read the latent z beside the labels (BigGAN style), so z can "
        "set a window's level and spectral balance, not only its texture.",
    )
    scale_labels: bool = Field(
        False, description="The discriminator's label embedding reads labels divided by the training labels' standard "
        "deviation, so that nearby labels can be told apart under spectral normalisation.",
    )
    minibatch_std: bool = Field(
        False, description="ProGAN's minibatch standard deviation channel in the discriminator (against windows "
        "that all look alike).",
    )
    aux_weight: float = Field(
        1.0, ge=0.0, description="Weight of the label regression head on the discriminator (AC-GAN with continuous "
        "labels: MSE on real windows for D, on generated ones for G, in units of the training labels' variance, "
        "so 1 weighs an error as wide as the labels' own spread like the adversarial loss); 0 leaves projection "
        "conditioning alone.",
    )
    epochs: int = Field(10, ge=1)
    windows_per_song: int = Field(8, ge=1, description="Random training windows per song and epoch.")
    batch_size: int = Field(32, ge=1)
    lr_g: float = Field(1e-4, gt=0.0)
    lr_d: float = Field(4e-4, gt=0.0)
    betas: tuple[float, float] = (0.0, 0.9)
    ema_decay: float = Field(0.999, ge=0.0, lt=1.0)
    samples: int = Field(3200, ge=1, description="Synthetic windows written by `moodscape gan generate`.")
    monitor_windows: int = Field(
        512, ge=0, description="Real training windows the generator is compared with after every epoch (history.csv: "
        "band-statistics Frechet distance beside its real-vs-real scale, ridge fidelity); 0 disables.",
    )


class PipelineConfig(_Section):
    """`moodscape run`: the run folder, which optional stages run, and what the report holds."""

    out_dir: Path = Field(Path("runs/pipeline"), description="Run folder: every stage's output, summary, report.")
    gan: bool = Field(True, description="Train the GAN and generate synthetic windows (teacher.synthetic_ratio uses them).")
    distill: bool = Field(True, description="Distil the teacher into the student.")
    export: bool = Field(True, description="Export the final model (the student, else the teacher).")
    export_formats: list[Literal["onnx", "torchscript"]] = Field(default_factory=lambda: ["onnx"])
    quantize: Literal["int8"] | None = "int8"
    gan_evaluate: bool = Field(False, description="GAN quality (Frechet distances with their real-vs-real scale, "
                               "fidelity, pictures); trains a real-only teacher as its encoder when the teacher "
                               "saw synthetic windows.")  # fmt: skip
    reconstructions: int = Field(0, ge=0, description="Real test clips and generated windows turned into audio.")
    predict_songs: int = Field(3, ge=0, description="Test songs predicted with the final model at the end.")


class Config(_Section):
    """The whole resolved configuration of a run."""

    seed: int = 0
    data: DataConfig = Field(default_factory=DataConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    student: StudentConfig = Field(default_factory=StudentConfig)
    gan: GanConfig = Field(default_factory=GanConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)

    @model_validator(mode="after")
    def _check_across_sections(self) -> Config:
        """Settings that are each valid alone but not together fail here, before any work starts."""
        nyquist = self.audio.sample_rate / 2
        if self.features.fmax > nyquist:
            raise ValueError(
                f"features.fmax ({self.features.fmax:g} Hz) is above the Nyquist frequency of audio.sample_rate "
                f"{self.audio.sample_rate} Hz ({nyquist:g} Hz); lower features.fmax or raise audio.sample_rate"
            )
        if self.split.test == 0 and self.evaluate.split == "test":
            raise ValueError("split.test is 0, so there are no test songs: set evaluate.split=val (and measure "
                             "quality by cross-validation, e.g. benchmarks/quality.py)")
        bins = self.features.n_fft // 2 + 1
        if self.features.n_mels > bins:
            raise ValueError(
                f"features.n_mels ({self.features.n_mels}) exceeds the {bins} frequency bins of features.n_fft "
                f"{self.features.n_fft}; lower n_mels or raise n_fft"
            )
        return self


