"""The command line of every recipe: `python -m t2izoo.recipes.<name>` calls `run_recipe(name)`.

Flags every recipe takes: --dataset, --preset, --data_dir, --model_dir, --strategy, repeatable
--override key=value (type-checked against the config dataclass) and, for GAN recipes,
--auto_pretrain / --pretrain_minutes (pretrain a missing `shapes` text encoder first). A recipe
class adds its own with `define_flags()` and reads them in `config_from_flags(config)`.
"""

from __future__ import annotations

import dataclasses

from absl import app, flags

from t2izoo import configs as config_lib
from t2izoo import registry
from t2izoo.data.datasets import DATASETS
from t2izoo.errors import ConfigError
from t2izoo.trainers import run_loop
from t2izoo.trainers.run_loop import STRATEGIES
from t2izoo.utils.cli import parse_flags, run_main

FLAGS = flags.FLAGS


def define_flags(presets: dict, default_dataset: str = "shapes", generator: bool = True):
    flags.DEFINE_enum("dataset", default_dataset, list(DATASETS), "Dataset to train on.")
    flags.DEFINE_string("preset", None, f"Named preset ({', '.join(presets)}); defaults to --dataset.")
    flags.DEFINE_string("data_dir", None, "Root of a real dataset (overrides the preset).")
    flags.DEFINE_string("model_dir", None, "Run directory (default runs/<recipe>_<dataset>).")
    flags.DEFINE_enum("strategy", "default", list(STRATEGIES), "tf.distribute strategy.")
    flags.DEFINE_multi_string("override", [], "key=value overrides of config fields (repeatable).")
    flags.register_validator("preset", lambda v: v is None or v in presets,
                             message=f"--preset must be one of {', '.join(presets)}")
    if generator:
        flags.DEFINE_bool("auto_pretrain", True, "Pretrain the shapes text encoder when it is missing.")
        flags.DEFINE_float("pretrain_minutes", 0.0, "Time cap of that pretraining (0: the full preset).",
                           lower_bound=0)


def resolve_config(presets: dict):
    """Preset (named or from --dataset) + --data_dir + --override, type-checked."""
    name = FLAGS.preset or FLAGS.dataset
    if name not in presets:
        raise ConfigError(f"no preset for dataset {name!r}; choose --preset from {', '.join(presets)}")
    config = dataclasses.replace(presets[name], dataset=FLAGS.dataset)
    if FLAGS.data_dir:
        config = dataclasses.replace(config, data_dir=FLAGS.data_dir)
    return config_lib.apply_overrides(config, FLAGS.override)


def run_recipe(name: str):
    """Defines the flags of family `name`'s recipe and runs it (the `__main__` of its module)."""
    family = registry.get(name)
    recipe_cls = family.recipe_class()
    define_flags(family.presets, generator=family.generator)
    recipe_cls.define_flags()

    def main(argv):
        del argv

        def _run():
            recipe = recipe_cls()
            config = recipe.config_from_flags(resolve_config(recipe.presets_from_flags(family.presets)))
            kwargs = {}
            if family.generator:
                kwargs = {"auto_pretrain": FLAGS.auto_pretrain, "pretrain_minutes": FLAGS.pretrain_minutes}
            model_dir = FLAGS.model_dir or recipe.default_model_dir(config)
            return run_loop.train(recipe, config, model_dir, FLAGS.strategy, **kwargs)

        run_main(_run)

    app.run(main, flags_parser=parse_flags)
