"""Tiny configs and tiny trained runs for fast end-to-end tests (16-32 px, 4-8 channels, 48 images).

Configs (the run-loop, evaluate and export tests build on the same ones):

    config = tiny_gan_int_cls(encoder_dir, max_steps=2)      # any field can be changed

Runs, one builder per generator run kind, registered in `TINY_RUNS`:

    model_dir = build_tiny_run("stackgan_v2", root)
    t2i = Text2Image.load(model_dir)

A builder trains the smallest run of its recipe through the recipe's own `train()` (a few
steps; 10-30 s each on two cores), reusing what is already trained under `root` (the
shared char-CNN-RNN and DAMSM runs, Stage-I for Stage-II), and returns the model directory.
Tests that need a trained run of every recipe (tests/export/test_export.py) parametrize over
`TINY_RUNS`; `generator_recipes_without_tiny_run` names the recipes in t2izoo/recipes that no
run covers. To add one:

    @register_tiny_run("sdgan")
    def sdgan_tiny_run(root):
        model_dir = os.path.join(root, "sdgan")
        if not _trained(model_dir):
            sdgan.train(tiny_sdgan(tiny_damsm_run(root)), model_dir, auto_pretrain=False)
        return model_dir
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pkgutil

# Data and logging every tiny config shares. No XLA: compiling a step costs more than the few
# steps a tiny run takes (tests/models/test_gan_int_cls.py checks the XLA step itself).
TINY_DATA = dict(shapes_train=48, shapes_test=20, batch_size=8, log_every=2, seed=0, jit_compile=False)
# The tiny runs' generators learn fast, and the deeper ones (Stage-II, StackGAN++, AttnGAN) run
# 20 steps so that their batch-norm statistics settle: then images vary with the noise (at the
# presets' 2e-4, or after 4 steps, every pixel stays near grey and export checks are trivial).
TINY_RUN_LEARNING_RATE = 0.01
DEEP = dict(learning_rate=TINY_RUN_LEARNING_RATE, max_steps=20, checkpoint_every=10, sample_every=20)
# Recipes that pretrain a text encoder instead of training a generator: nothing to export.
PRETRAINING_RECIPES = frozenset({"char_cnn_rnn", "damsm"})


# --------------------------------------------------------------------------------------
# Configs.
# --------------------------------------------------------------------------------------


def tiny_char_cnn_rnn(**changes):
    """char-CNN-RNN: 8-channel convs, 8-d GRU, 16-d embedding, 3 steps."""
    from t2izoo.configs.gan_int_cls import CHAR_CNN_RNN_PRESETS

    base = dict(TINY_DATA, conv_channels=(8, 8, 8), rnn_dim=8, embedding_dim=16, max_steps=3, checkpoint_every=0)
    return dataclasses.replace(CHAR_CNN_RNN_PRESETS["shapes"], **{**base, **changes})


def tiny_gan_int_cls(encoder_dir: str, **changes):
    """GAN-INT-CLS at 16 px, ngf = ndf = 4, 4 steps."""
    from t2izoo.configs.gan_int_cls import GAN_INT_CLS_PRESETS

    base = dict(TINY_DATA, encoder_dir=encoder_dir, image_size=16, ngf=4, ndf=4, text_proj_dim=8, max_steps=4,
                checkpoint_every=2, sample_every=2)
    return dataclasses.replace(GAN_INT_CLS_PRESETS["shapes"], **{**base, **changes})


def tiny_stackgan(encoder_dir: str, stage: int = 1, stage1_dir: str = "", **changes):
    """StackGAN Stage-I at 16 px (Stage-II: 16 -> 32 px, one residual block), 4 steps."""
    from t2izoo.configs.stackgan import STACKGAN_PRESETS, STACKGAN_STAGE2_PRESETS

    preset = (STACKGAN_PRESETS if stage == 1 else STACKGAN_STAGE2_PRESETS)["shapes"]
    base = dict(TINY_DATA, encoder_dir=encoder_dir, stage1_dir=stage1_dir, image_size=16, hr_image_size=32, ngf=4,
                ndf=4, condition_dim=8, num_residual=1, max_steps=4, checkpoint_every=2, sample_every=4)
    return dataclasses.replace(preset, **{**base, **changes})


def tiny_stackgan_v2(encoder_dir: str, **changes):
    """StackGAN++ with two scales (16, 32 px), ngf = ndf = 4, 4 steps."""
    from t2izoo.configs.stackgan import STACKGAN_V2_PRESETS

    base = dict(TINY_DATA, encoder_dir=encoder_dir, base_size=16, num_stages=2, ngf=4, ndf=4, condition_dim=8,
                num_residual=1, max_steps=4, checkpoint_every=2, sample_every=4)
    return dataclasses.replace(STACKGAN_V2_PRESETS["shapes"], **{**base, **changes})


def tiny_damsm(**changes):
    """DAMSM: 8-d word embeddings, 4-unit bi-LSTM (8-d features), small CNN at 32 px, 3 steps."""
    from t2izoo.configs.attngan import DAMSM_PRESETS

    base = dict(TINY_DATA, image_size=32, word_embedding_dim=8, hidden_dim=4, embedding_dim=8,
                small_cnn_widths=(8, 8, 8), small_cnn_global_widths=(8,), max_steps=3, checkpoint_every=0)
    return dataclasses.replace(DAMSM_PRESETS["shapes"], **{**base, **changes})


def tiny_attngan(damsm_dir: str, **changes):
    """AttnGAN with two scales (16, 32 px), ngf = ndf = 4, one residual block, 4 steps."""
    from t2izoo.configs.attngan import ATTNGAN_PRESETS

    base = dict(TINY_DATA, damsm_dir=damsm_dir, base_size=16, num_stages=2, ngf=4, ndf=4, condition_dim=8,
                residual_blocks=1, eval_images=0, max_steps=4, checkpoint_every=2, sample_every=4)
    return dataclasses.replace(ATTNGAN_PRESETS["shapes"], **{**base, **changes})


# --------------------------------------------------------------------------------------
# Trained runs.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TinyRun:
    """A registered tiny run: the recipe it trains and `build(root) -> model_dir`."""

    recipe: str
    build: object


TINY_RUNS: dict = {}


def register_tiny_run(name: str, recipe: str | None = None):
    """Decorator registering `builder(root) -> model_dir` as run `name` of `recipe` (default: `name`)."""

    def register(builder):
        TINY_RUNS[name] = TinyRun(recipe or name, builder)
        return builder

    return register


def build_tiny_run(name: str, root) -> str:
    """Trains (or reuses, if already trained under `root`) the tiny run called `name`."""
    if name not in TINY_RUNS:
        raise KeyError(f"no tiny run {name!r}; registered: {sorted(TINY_RUNS)}")
    return TINY_RUNS[name].build(str(root))


def _trained(model_dir: str) -> bool:
    return os.path.exists(os.path.join(model_dir, "checkpoints", "checkpoint"))


def _train_once(root: str, name: str, train) -> str:
    """`root/name`, after `train(model_dir)` unless a checkpoint is already there."""
    model_dir = os.path.join(root, name)
    if not _trained(model_dir):
        train(model_dir)
    return model_dir


def tiny_char_cnn_rnn_run(root: str) -> str:
    """The char-CNN-RNN pretraining run the GAN-INT-CLS and StackGAN runs share."""
    from t2izoo.recipes import char_cnn_rnn

    return _train_once(root, "char_cnn_rnn",
                       lambda d: char_cnn_rnn.train(tiny_char_cnn_rnn(max_steps=4), d, verbose=0))


def tiny_damsm_run(root: str) -> str:
    """The DAMSM pretraining run of the AttnGAN run."""
    from t2izoo.recipes import damsm

    return _train_once(root, "damsm", lambda d: damsm.train(tiny_damsm(), d))


@register_tiny_run("gan_int_cls")
def gan_int_cls_tiny_run(root: str) -> str:
    """GAN-INT-CLS: 6 steps at 16 px on the tiny char-CNN-RNN."""
    from t2izoo.recipes import gan_int_cls

    return _train_once(root, "gan_int_cls", lambda d: gan_int_cls.train(
        tiny_gan_int_cls(tiny_char_cnn_rnn_run(root), max_steps=6, checkpoint_every=3, sample_every=3,
                         learning_rate=TINY_RUN_LEARNING_RATE), d, auto_pretrain=False, verbose=0))


@register_tiny_run("stackgan")
def stackgan_tiny_run(root: str) -> str:
    """StackGAN Stage-I at 16 px."""
    from t2izoo.recipes import stackgan

    return _train_once(root, "stackgan_stage1", lambda d: stackgan.train(
        tiny_stackgan(tiny_char_cnn_rnn_run(root), learning_rate=TINY_RUN_LEARNING_RATE), d, auto_pretrain=False))


@register_tiny_run("stackgan_stage2", recipe="stackgan")
def stackgan_stage2_tiny_run(root: str) -> str:
    """StackGAN Stage-II (16 -> 32 px, 20 steps) on the frozen tiny Stage-I run."""
    from t2izoo.recipes import stackgan

    return _train_once(root, "stackgan_stage2", lambda d: stackgan.train(
        tiny_stackgan(tiny_char_cnn_rnn_run(root), stage=2, stage1_dir=stackgan_tiny_run(root), **DEEP), d,
        auto_pretrain=False))


@register_tiny_run("stackgan_v2")
def stackgan_v2_tiny_run(root: str) -> str:
    """StackGAN++ with 16 and 32 px branches, 20 steps."""
    from t2izoo.recipes import stackgan_v2

    return _train_once(root, "stackgan_v2", lambda d: stackgan_v2.train(
        tiny_stackgan_v2(tiny_char_cnn_rnn_run(root), **DEEP), d, auto_pretrain=False))


@register_tiny_run("attngan")
def attngan_tiny_run(root: str) -> str:
    """AttnGAN with 16 and 32 px branches, 20 steps, on the tiny DAMSM (its vocabulary and encoders)."""
    from t2izoo.recipes import attngan

    return _train_once(root, "attngan", lambda d: attngan.train(
        tiny_attngan(tiny_damsm_run(root), **DEEP), d, auto_pretrain=False))


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
    covered = {run.recipe for run in TINY_RUNS.values()}
    return [name for name in generator_recipe_names() if name not in covered]
