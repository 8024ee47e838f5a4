"""Experiment configs: frozen dataclasses, named presets, type-checked overrides, JSON I/O."""

from __future__ import annotations

import dataclasses
import json
import os
import typing

from t2izoo.errors import ConfigError

CONFIG_FILENAME = "config.json"


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
        jit_compile: compile each training step with XLA when it runs on one replica (Keras'
            "auto" leaves XLA off on CPU-only machines, yet on this 2-core CPU it is 1.3-1.6x
            faster: `benchmarks/bench_xla.py`). Multi-replica strategies always run without it:
            XLA cannot address MirroredStrategy's per-device variables.
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


# Fields that may change between runs in the same model_dir (everything else must match).
RUN_LENGTH_FIELDS = frozenset(
    {"max_steps", "num_epochs", "max_minutes", "checkpoint_every", "keep_every_minutes", "sample_every", "log_every",
     "data_dir", "jit_compile"})


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
        if key not in hints:
            known = ", ".join(sorted(f.name for f in dataclasses.fields(config)))
            raise ConfigError(f"--override {key}: unknown field of {type(config).__name__}; known: {known}")
        changes[key] = _coerce(value, hints[key], key, getattr(config, key))
    return dataclasses.replace(config, **changes)


def to_dict(config) -> dict:
    return {"class": type(config).__name__, **dataclasses.asdict(config)}


def from_dict(cls, data: dict):
    data = {k: v for k, v in data.items() if k != "class"}
    hints = typing.get_type_hints(cls)
    unknown = set(data) - set(hints)
    if unknown:
        raise ConfigError(f"stored config has fields {sorted(unknown)} that {cls.__name__} does not know")
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**fixed)


def save_config(config, model_dir: str) -> str:
    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, CONFIG_FILENAME)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(to_dict(config), f, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return path


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
