"""Writing a converted run directory: the same files a training run leaves (config.json,
vocab.json, the conditioner's stored config, checkpoints/), so `t2izoo.generate`,
`t2izoo.evaluate` and `t2izoo.export` use it unchanged. It appears complete or not at all."""

from __future__ import annotations

import os
import shutil

from t2izoo import configs as config_lib
from t2izoo import registry
from t2izoo.convert.state_dict import ConversionError
from t2izoo.utils.files import write_json_atomic


def write_run(out: str, config, vocab, files: dict, fill) -> str:
    """Builds `config`'s family, lets `fill(trainer, conditioner)` copy the converted weights in,
    and writes the run directory `out` (which must not exist, or be empty).

    Args:
        files: {file name: JSON object} written beside config.json first (e.g. the frozen text
            encoder's config, which the conditioner rebuilds the encoder from).
    """
    import tensorflow as tf

    from t2izoo.trainers.checkpointing import CHECKPOINT_SUBDIR

    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise ConversionError(f"--out={out} exists and is not an empty directory; choose a new run directory")
    staging = f"{out.rstrip(os.sep)}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        os.makedirs(staging)
        config_lib.save_config(config, staging)
        vocab.save(staging)
        for name, obj in files.items():
            write_json_atomic(os.path.join(staging, name), obj, indent=2, sort_keys=True)
        recipe = registry.family_of_config(type(config).__name__).make_recipe()
        context = {"vocab": vocab, "train_set": None, "model_dir": staging, "steps_per_epoch": 1,
                   **recipe.prepare(config, staging, vocab)}
        trainer = recipe.build_trainer(config, context)
        trainer.build_from_batch(recipe.example_batch(config, context))
        fill(trainer, context.get("conditioner"))
        checkpoint = recipe.checkpoint(trainer)
        tf.train.CheckpointManager(checkpoint, os.path.join(staging, CHECKPOINT_SUBDIR), max_to_keep=1).save(
            checkpoint_number=0)
        if os.path.isdir(out):
            os.rmdir(out)
        os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
