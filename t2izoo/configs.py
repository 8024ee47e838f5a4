"""Experiment configs: frozen dataclasses, named presets, type-checked overrides, JSON I/O.

`RunConfig` holds what every recipe shares (data, run length, logging); `GanRunConfig` adds what
every GAN shares (the two optimizers, EMA, synchronised batch norm, the evaluation after training).
A family's config subclasses one of them (t2izoo/models/<paper>/config.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing

from t2izoo.errors import ConfigError
from t2izoo.utils.files import write_json_atomic

CONFIG_FILENAME = "config.json"
# `GanRunConfig.weights_init` (t2izoo.layers.init.orthogonal_init).
WEIGHTS_INITS = ("normal", "orthogonal")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Fields every recipe shares: data, run length, logging and checkpointing.

    Args:
        dataset: dataset name (`shapes`, `cub`, `flowers`, `coco`, `coco_tfds`, `folder`).
        data_dir: root of a real dataset (unused for `shapes`).
        shapes_train, shapes_test: `shapes` split sizes.
        batch_size: global batch size (split over replicas).
        max_words: caption length in words.
        max_steps: stop after this many steps (0: derive from `num_epochs`).
        num_epochs: epochs when `max_steps` is 0.
        max_minutes: stop (and checkpoint) after this much wall time (0: no limit).
        checkpoint_every: steps between checkpoints (also on SIGINT/SIGTERM and at the end).
        keep_every_minutes: besides the last 3 checkpoints, keep one per this many minutes of
            training (0: keep only the last 3); `benchmarks/accuracy_curve.py` reads them.
        sample_every: steps between sample grids.
        log_every: steps per progress-bar line (a Keras "epoch").
        seed: seed of data order, noise and initialisation.
        jit_compile: compile each training step with XLA when it runs on one replica (on here;
            the GAN recipes default to off, `GanRunConfig`, measured). Multi-replica strategies
            always run without it: XLA cannot address MirroredStrategy's per-device variables.
        mixed_precision: "none" (float32), "bfloat16" or "float16" (loss-scaled; GAN recipes
            only): the precision the trained models compute in, with float32 variables, losses,
            batch-norm statistics and softmaxes (`t2izoo.trainers.precision`). Checkpoints are
            float32 in every precision; a run may change it when it resumes.
    """

    dataset: str = "shapes"
    data_dir: str = ""
    shapes_train: int = 10000
    shapes_test: int = 2000
    batch_size: int = 64
    max_words: int = 18
    max_steps: int = 0
    num_epochs: int = 600
    max_minutes: float = 0.0
    checkpoint_every: int = 500
    keep_every_minutes: float = 0.0
    sample_every: int = 500
    log_every: int = 50
    seed: int = 0
    jit_compile: bool = True
    mixed_precision: str = "none"

    # Whether the recipe's trainer scales its losses (float16 needs it): the GAN trainers do.
    LOSS_SCALED: typing.ClassVar[bool] = False

    def __post_init__(self):
        from t2izoo.trainers.precision import check_mixed_precision

        check_mixed_precision(self.mixed_precision, self.LOSS_SCALED)


@dataclasses.dataclass(frozen=True)
class GanRunConfig(RunConfig):
    """Fields every GAN recipe shares.

    Args:
        text_encoder_dir: model_dir of the pretraining run of the family's frozen text encoder
            (its conditioner kind: char-CNN-RNN or DAMSM); default runs/<kind>_<dataset>;
            "stored": the run directory keeps the encoder itself (runs converted from official
            checkpoints, `python -m t2izoo.convert`).
        z_dim: noise size (100 in every paper here).
        ngf, ndf: base widths of the generator and the discriminator(s) (each family's own
            meaning: GF_DIM / DF_DIM of the official configs).
        weights_init: "normal" (conv and dense kernels N(0, 0.02): dcgan.torch, icml2016,
            StackGAN) or "orthogonal" (StackGAN-v2's and AttnGAN's `weights_init`, the default
            of `TreeGanConfig`); applied when a run starts.
        g_learning_rate, d_learning_rate: Adam learning rates of the generator and of the
            discriminator(s) (the papers here use 2e-4 for both; DF-GAN-style models 1e-4 / 4e-4).
        g_beta_1, g_beta_2, d_beta_1, d_beta_2: Adam betas of each side.
        lr_decay_epochs: both rates are halved every this many epochs (0: constant).
        ema_decay: EMA of G used for samples, evaluation and export (0 disables).
        sync_batch_norm: synchronise BN statistics over replicas under a distribution strategy.
        eval_images: images per split for the evaluation the run loop runs after training
            (`shapes` only: `shapes_acc` and `shapes_r_precision` on `test` and `novel`, appended
            to eval.jsonl); 0 skips it.
        jit_compile: off for every GAN recipe (`RunConfig`'s default, on, stays for the text
            encoders' pretraining). On this CPU the plain graph ran every GAN recipe's `shapes`
            step faster and lighter than XLA, float32, one process per row in one run of
            `benchmarks/bench_train_step.py` on one otherwise idle core (s/step, XLA vs plain):
            GAN-INT-CLS 0.688 vs 0.520, StackGAN 0.633 vs 0.519, StackGAN++ 1.258 vs 0.997,
            SISGAN 1.509 vs 0.880, TAGAN 0.619 vs 0.469; AttnGAN and SD-GAN on two cores
            (0.212 vs 0.168, 0.391 vs 0.376); and at `cub` (AttnGAN, StackGAN++), where the
            compiled step used one core (BUILD.md). `--override jit_compile=true` turns it on
            (e.g. on a GPU).
    """

    text_encoder_dir: str = ""
    z_dim: int = 100
    ngf: int = 64
    ndf: int = 64
    weights_init: str = "normal"
    g_learning_rate: float = 0.0002
    d_learning_rate: float = 0.0002
    g_beta_1: float = 0.5
    g_beta_2: float = 0.999
    d_beta_1: float = 0.5
    d_beta_2: float = 0.999
    lr_decay_epochs: int = 0
    ema_decay: float = 0.999
    sync_batch_norm: bool = True
    eval_images: int = 0
    jit_compile: bool = False

    LOSS_SCALED: typing.ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        if self.weights_init not in WEIGHTS_INITS:
            raise ConfigError(f"weights_init={self.weights_init!r}: expected one of {', '.join(WEIGHTS_INITS)}")


@dataclasses.dataclass(frozen=True)
class ConditioningAugmentationConfig:
    """Conditioning augmentation (StackGAN Sec. 3.1; `t2izoo.layers.ConditioningAugmentation`):
    the sentence embedding becomes a Gaussian N(mu, sigma) the generator samples its condition
    from, with a KL penalty towards N(0, I).

    Args:
        condition_dim: size of the condition (StackGAN EMBEDDING_DIM / N_g 128; AttnGAN 100).
        kl_weight: weight of the KL term in G's loss (StackGAN and StackGAN++ code: COEFF.KL 2.0,
            their papers' lambda 1; AttnGAN 1).
    """

    condition_dim: int = 128
    kl_weight: float = 2.0


@dataclasses.dataclass(frozen=True)
class TreeGanConfig(GanRunConfig, ConditioningAugmentationConfig):
    """Fields of the tree generators (StackGAN++, AttnGAN; `t2izoo.layers.TreeGenerator`): one
    image per scale, base_size * 2^i for i < num_stages.

    Args:
        base_size: side of the first scale's images (BASE_SIZE 64).
        num_stages: number of scales and discriminators (BRANCH_NUM 3: 64, 128, 256 px).
        num_residual: residual blocks per refinement stage (R_NUM).
        condition_dim, kl_weight: conditioning augmentation (`ConditioningAugmentationConfig`).
    """

    base_size: int = 64
    num_stages: int = 3
    num_residual: int = 2
    weights_init: str = "orthogonal"

    @property
    def image_sizes(self) -> tuple:
        return tuple(self.base_size * 2 ** i for i in range(self.num_stages))

    @property
    def image_size(self) -> int:
        return self.image_sizes[-1]


# Names of fields before the family layout (t2izoo 0.1), read from older config.json files and
# accepted by --override: old name -> the fields it sets now.
LEGACY_FIELDS = {
    "learning_rate": ("g_learning_rate", "d_learning_rate"),
    "beta_1": ("g_beta_1", "d_beta_1"),
    "beta_2": ("g_beta_2", "d_beta_2"),
    "residual_blocks": ("num_residual",),
    "kl_coeff": ("kl_weight",),
    "encoder_dir": ("text_encoder_dir",),
    "damsm_dir": ("text_encoder_dir",),
}


def _legacy_targets(cls, key):
    """The current fields an old field name maps to in `cls`, or None."""
    names = {f.name for f in dataclasses.fields(cls)}
    targets = LEGACY_FIELDS.get(key, ())
    return targets if key not in names and targets and all(t in names for t in targets) else None


# Fields that may change between runs in the same model_dir (everything else must match).
RUN_LENGTH_FIELDS = frozenset(
    {"max_steps", "num_epochs", "max_minutes", "checkpoint_every", "keep_every_minutes", "sample_every", "log_every",
     "data_dir", "jit_compile", "eval_images", "weights_init", "mixed_precision"})


def _coerce(value: str, field_type, name: str, current=None):
    if field_type is tuple:  # bare `tuple`: elements typed like the current value's
        field_type = typing.Tuple[type(current[0]) if current else str, ...]
    origin = typing.get_origin(field_type)
    if field_type is bool:
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"--override {name}={value}: expected true/false")
    if field_type in (int, float, str):
        try:
            return field_type(value)
        except ValueError:
            raise ConfigError(f"--override {name}={value}: expected {field_type.__name__}") from None
    if origin is tuple:
        element = (typing.get_args(field_type) or (str,))[0]
        parts = [p for p in value.replace("(", "").replace(")", "").split(",") if p.strip()]
        return tuple(_coerce(p.strip(), element, name) for p in parts)
    raise ConfigError(f"--override {name}: cannot set a field of type {field_type}")


def apply_overrides(config, overrides):
    """Returns `config` with `key=value` strings applied, each checked against the field type."""
    hints = typing.get_type_hints(type(config))
    changes = {}
    for item in overrides or ():
        if "=" not in item:
            raise ConfigError(f"--override {item!r}: expected key=value")
        key, value = (s.strip() for s in item.split("=", 1))
        for target in _legacy_targets(type(config), key) or ():
            changes[target] = _coerce(value, hints[target], key, getattr(config, target))
        if _legacy_targets(type(config), key):
            continue
        if key not in hints:
            known = ", ".join(sorted(f.name for f in dataclasses.fields(config)))
            raise ConfigError(f"--override {key}: unknown field of {type(config).__name__}; known: {known}")
        changes[key] = _coerce(value, hints[key], key, getattr(config, key))
    return dataclasses.replace(config, **changes)


def to_dict(config) -> dict:
    return {"class": type(config).__name__, **dataclasses.asdict(config)}


def from_dict(cls, data: dict):
    data = {k: v for k, v in data.items() if k != "class"}
    # A field added with a new default behaviour: a stored config without it was trained with
    # the old one (the class's STORED_DEFAULTS), not with today's default.
    for key, value in getattr(cls, "STORED_DEFAULTS", {}).items():
        if key not in data and not any(key in (_legacy_targets(cls, k) or ()) for k in data):
            data[key] = value
    for key in [k for k in data if _legacy_targets(cls, k)]:
        value = data.pop(key)
        for target in _legacy_targets(cls, key):
            data.setdefault(target, value)
    hints = typing.get_type_hints(cls)
    unknown = set(data) - set(hints)
    if unknown:
        raise ConfigError(f"stored config has fields {sorted(unknown)} that {cls.__name__} does not know")
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**fixed)


def save_config(config, model_dir: str) -> str:
    return write_json_atomic(os.path.join(model_dir, CONFIG_FILENAME), to_dict(config), indent=2, sort_keys=True)


def load_config(cls, model_dir: str):
    path = os.path.join(model_dir, CONFIG_FILENAME)
    if not os.path.exists(path):
        raise ConfigError(f"{model_dir} holds no {CONFIG_FILENAME}: not a t2izoo run directory")
    try:
        with open(path) as f:
            data = json.load(f)
    except ValueError as err:
        raise ConfigError(f"{path} is not valid JSON ({err})") from None
    if data.get("class") not in (None, cls.__name__):
        raise ConfigError(f"{model_dir} holds a {data.get('class')} run, not {cls.__name__}")
    return from_dict(cls, data)


def check_compatible(stored, current, model_dir: str):
    """Raises ConfigError when `current` cannot resume the run in `model_dir`."""
    if type(stored) is not type(current):
        raise ConfigError(f"{model_dir} holds a {type(stored).__name__} run, not {type(current).__name__}")
    diffs = [f"{f.name}: stored {getattr(stored, f.name)!r}, requested {getattr(current, f.name)!r}"
             for f in dataclasses.fields(current)
             if f.name not in RUN_LENGTH_FIELDS and getattr(stored, f.name) != getattr(current, f.name)]
    if diffs:
        raise ConfigError(f"--model_dir={model_dir} holds a run with an incompatible config ("
                          + "; ".join(diffs) + "); use a new --model_dir or the same settings")


def get_preset(presets: dict, name: str):
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(presets)}")
    return presets[name]
