"""Tiny trained runs for tests: a registry of builders, one per generator recipe.

    model_dir = build_tiny_run("gan_int_cls", tmp_path)
    t2i = Text2Image.load(model_dir)

A builder trains the smallest run of its recipe that still goes through the real code
(`shapes` with 64 training images, 16 px, 4-channel nets, a few steps; under a minute on two
cores) and returns its model directory. Tests that need a trained run of every recipe
(tests/export/test_export.py) parametrize over `TINY_RUNS`, so a new recipe is covered as soon
as its builder lands; `generator_recipes_without_tiny_run` names the recipes in t2izoo/recipes
that have none yet (reported as a skip). To add one:

    @register_tiny_run("stackgan_v2")
    def stackgan_v2_tiny_run(root):
        config = apply_overrides(STACKGAN_V2_PRESETS["shapes"], TINY_SHAPES + ("ngf=4", ...))
        model_dir = os.path.join(root, "stackgan_v2")
        stackgan_v2.train(config, model_dir)
        return model_dir
"""

from __future__ import annotations

import importlib
import os
import pkgutil

TINY_RUNS: dict = {}
# Recipes that pretrain a text encoder instead of training a generator: nothing to export.
PRETRAINING_RECIPES = frozenset({"char_cnn_rnn", "damsm"})
# Overrides every tiny shapes run shares.
TINY_SHAPES = ("shapes_train=64", "shapes_test=16", "batch_size=8", "log_every=2")


def register_tiny_run(recipe_name: str):
    """Decorator registering `builder(root) -> model_dir` for the recipe called `recipe_name`."""

    def register(builder):
        TINY_RUNS[recipe_name] = builder
        return builder

    return register


def build_tiny_run(recipe_name: str, root) -> str:
    """Trains (or reuses, if already trained under `root`) the tiny run of `recipe_name`."""
    if recipe_name not in TINY_RUNS:
        raise KeyError(f"no tiny run for {recipe_name!r}; registered: {sorted(TINY_RUNS)}")
    return TINY_RUNS[recipe_name](str(root))


def _trained(model_dir: str) -> bool:
    return os.path.exists(os.path.join(model_dir, "checkpoints", "checkpoint"))


def tiny_char_cnn_rnn(root: str) -> str:
    """A 4-step char-CNN-RNN pretraining run (8-channel convs, 8-d GRU, 16-d embedding)."""
    from t2izoo.configs import base as config_lib
    from t2izoo.configs.gan_int_cls import CHAR_CNN_RNN_PRESETS
    from t2izoo.recipes import char_cnn_rnn

    model_dir = os.path.join(root, "char_cnn_rnn")
    if not _trained(model_dir):
        config = config_lib.apply_overrides(
            CHAR_CNN_RNN_PRESETS["shapes"],
            TINY_SHAPES + ("max_steps=4", "conv_channels=8,8,8", "rnn_dim=8", "embedding_dim=16"))
        char_cnn_rnn.train(config, model_dir)
    return model_dir


@register_tiny_run("gan_int_cls")
def gan_int_cls_tiny_run(root: str) -> str:
    """GAN-INT-CLS as /tmp/e2e.sh: 6 steps at 16 px, ngf = ndf = 4, on the tiny char-CNN-RNN."""
    from t2izoo.configs import base as config_lib
    from t2izoo.configs.gan_int_cls import GAN_INT_CLS_PRESETS
    from t2izoo.recipes import gan_int_cls

    model_dir = os.path.join(root, "gan_int_cls")
    if not _trained(model_dir):
        encoder_dir = tiny_char_cnn_rnn(root)
        config = config_lib.apply_overrides(
            GAN_INT_CLS_PRESETS["shapes"],
            TINY_SHAPES + (f"encoder_dir={encoder_dir}", "max_steps=6", "sample_every=3", "checkpoint_every=3",
                           "ngf=4", "ndf=4", "image_size=16"))
        gan_int_cls.train(config, model_dir, auto_pretrain=False)
    return model_dir


def generator_recipe_names() -> list:
    """Names of the `Recipe` subclasses defined in t2izoo/recipes/*, pretraining recipes left out.

    A module that fails to import is listed by its module name (its own tests report why).
    """
    import t2izoo.recipes
    from t2izoo.trainers.run_loop import Recipe

    names = set()
    for module_info in pkgutil.iter_modules(t2izoo.recipes.__path__):
        try:
            module = importlib.import_module(f"t2izoo.recipes.{module_info.name}")
        except Exception:  # a recipe being written: still counts as one without a tiny run
            names.add(module_info.name)
            continue
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, Recipe) and value is not Recipe
                    and value.__module__ == module.__name__ and value.name not in PRETRAINING_RECIPES):
                names.add(value.name)
    return sorted(names)


def generator_recipes_without_tiny_run() -> list:
    return [name for name in generator_recipe_names() if name not in TINY_RUNS]
