"""The one list of model families: each registers itself here, everything else reads it.

A family (one paper, `t2izoo/models/<paper>/`) or a text encoder's pretraining
(`t2izoo/conditioning/<kind>/`) calls `register(Family(...))` in its `config.py`. `generate`,
`evaluate`, `export`, the run loop and the test helpers find a run's family from the config class
named in its config.json (`family_of_run`), or by name (`get`). Nothing else lists the papers:
`families()` discovers every `config.py` below `t2izoo/models/` and `t2izoo/conditioning/`.

Example (t2izoo/models/gan_int_cls/config.py):

    register(Family(name="gan_int_cls", config_class=GanIntClsConfig, presets=GAN_INT_CLS_PRESETS,
                    recipe="t2izoo.models.gan_int_cls.recipe:GanIntClsRecipe",
                    conditioner="char_cnn_rnn", tiny=TINY))
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pkgutil

from t2izoo.errors import ConfigError

_FAMILY_ROOTS = ("t2izoo.models", "t2izoo.conditioning")
TEXT_TO_IMAGE, MANIPULATION = "text_to_image", "manipulation"
TASKS = (TEXT_TO_IMAGE, MANIPULATION)


@dataclasses.dataclass(frozen=True)
class Family:
    """What the zoo needs to know about one family.

    Args:
        name: the paper's name in the spelling table (`gan_int_cls`, `stackgan`, ...); also the
            recipe's `python -m t2izoo.recipes.<name>`.
        config_class: its frozen config dataclass.
        presets: preset name -> config.
        recipe: "module:Class" of its `run_loop.Recipe` (imported only when needed, so reading
            the registry costs no TensorFlow import).
        conditioner: the text encoder kind it is conditioned on (`char_cnn_rnn`, `damsm`;
            `t2izoo.conditioning`), or None for a text encoder's own pretraining.
        generator: False for pretraining families (nothing to generate, evaluate or export).
        tiny: field changes that make the `shapes` preset a test-sized config (16-32 px, 4-8
            channels, a few steps; `t2izoo.testing.tiny`).
        tiny_runs: the tiny trained runs the tests use (export, evaluation): run name -> field
            changes on top of `tiny` (default: one run called `name`); a value `"<run:NAME>"`
            is replaced by the model_dir of tiny run NAME (e.g. StackGAN Stage-II's
            `stage1_dir`).
        converter: "module:function" that converts the official checkpoints into a run directory
            (`python -m t2izoo.convert --from=<name>`), or "" where none is written.
        conditioner_class: pretraining families only: "module:Class" of the conditioner that
            owns the frozen encoder they train (`t2izoo.conditioning.conditioner_class`).
        task: "text_to_image" (captions -> images; `t2izoo.generate`) or "manipulation"
            (image + new caption -> edited image; `t2izoo.manipulate`, whose trainers implement
            `t2izoo.trainers.manipulation.ManipulationModel`).
    """

    name: str
    config_class: type
    presets: dict
    recipe: str
    conditioner: str | None = None
    generator: bool = True
    tiny: dict = dataclasses.field(default_factory=dict)
    tiny_runs: dict = dataclasses.field(default_factory=dict)
    converter: str = ""
    conditioner_class: str = ""
    task: str = TEXT_TO_IMAGE

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"family {self.name!r}: task {self.task!r} is not one of {TASKS}")

    @property
    def is_manipulation(self) -> bool:
        return self.task == MANIPULATION

    def recipe_class(self):
        return load_object(self.recipe)

    def make_recipe(self):
        return self.recipe_class()()


def load_object(path: str):
    """The object named by "package.module:Name"."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


_FAMILIES: dict = {}
_discovered = False


def register(family: Family) -> Family:
    """Adds `family`; a second family of the same name or config class is an error."""
    for other in _FAMILIES.values():
        if other.name != family.name and other.config_class.__name__ == family.config_class.__name__:
            raise ValueError(f"config class {family.config_class.__name__} is registered by {other.name}")
    if family.name in _FAMILIES and _FAMILIES[family.name].config_class is not family.config_class:
        raise ValueError(f"family {family.name!r} is registered twice")
    _FAMILIES[family.name] = family
    return family


def _discover():
    global _discovered
    if _discovered:
        return
    for root in _FAMILY_ROOTS:
        package = importlib.import_module(root)
        for info in pkgutil.iter_modules(package.__path__):
            if info.ispkg:
                importlib.import_module(f"{root}.{info.name}.config")
    _discovered = True


def families(generators_only: bool = False, task: str | None = None) -> list:
    """Every registered family, sorted by name (only those of `task` when given)."""
    _discover()
    return [f for _, f in sorted(_FAMILIES.items())
            if (f.generator or not generators_only) and (task is None or f.task == task)]


def get(name: str) -> Family:
    _discover()
    if name not in _FAMILIES:
        raise ConfigError(f"unknown model family {name!r}; known: {', '.join(sorted(_FAMILIES))}")
    return _FAMILIES[name]


def family_of_config(config_class_name: str) -> Family:
    _discover()
    for family in _FAMILIES.values():
        if family.config_class.__name__ == config_class_name:
            return family
    raise ConfigError(f"no model family has the config class {config_class_name!r}")


def family_of_run(model_dir: str, generator: bool = True) -> Family:
    """The family of the run in `model_dir`, from the config class named in its config.json.

    Raises ConfigError when the directory is not a run, or (with `generator`) when it holds a
    text encoder's pretraining run, which generates no images.
    """
    from t2izoo.configs import CONFIG_FILENAME

    path = os.path.join(model_dir, CONFIG_FILENAME)
    if not os.path.exists(path):
        raise ConfigError(f"{model_dir} holds no {CONFIG_FILENAME}: not a t2izoo run directory")
    try:
        with open(path) as f:
            name = json.load(f).get("class")
    except ValueError as err:
        raise ConfigError(f"{path} is not valid JSON ({err})") from None
    try:
        family = family_of_config(name)
    except ConfigError:
        raise ConfigError(f"{model_dir}: no model family for config class {name!r}") from None
    if generator and not family.generator:
        raise ConfigError(f"{model_dir} is a text-encoder pretraining run ({family.name}), not a generator; "
                          "pass the model_dir of a GAN run")
    return family
