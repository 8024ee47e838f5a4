"""Checkpoints that list every variable explicitly.

Keras 3 layers do not expose all of their variables to `tf.train.Checkpoint`'s object graph
(sub-layers assigned in `__init__` can be missing, so their weights would silently not be
saved). We therefore checkpoint flat, ordered variable lists: the trainer's `weights` (every
model, frozen encoders, batch-norm statistics and EMA copies, in Keras' deterministic order),
each optimizer's `variables`, and the noise generator. The same code and config rebuild the
same lists, so a restore is exact; a different architecture fails loudly on shapes.
"""

import os

import tensorflow as tf

from t2izoo.data import text as text_lib
from t2izoo.errors import CheckpointError

CHECKPOINT_SUBDIR = "checkpoints"


def _tf_variable(v):
    return getattr(v, "value", v) if not isinstance(v, tf.Variable) else v


class _VariableList(tf.Module):
    def __init__(self, variables):
        super().__init__()
        self.values = [_tf_variable(v) for v in variables]


def make_checkpoint(trainer, optimizers, extra=None) -> tf.train.Checkpoint:
    """A checkpoint of `trainer.weights`, the optimizers' variables and `extra` trackables."""
    parts = {"model": _VariableList(trainer.weights)}
    for i, optimizer in enumerate(optimizers):
        parts[f"optimizer_{i}"] = _VariableList(optimizer.variables)
    parts.update(extra or {})
    return tf.train.Checkpoint(**parts)


def restore_for_inference(recipe, config, model_dir: str, checkpoint_path: str | None = None):
    """Builds the trainer of a finished/paused run and restores its latest (or the given) checkpoint."""
    ckpt_dir = os.path.join(model_dir, CHECKPOINT_SUBDIR)
    latest = checkpoint_path or tf.train.latest_checkpoint(ckpt_dir)
    if checkpoint_path and not os.path.exists(checkpoint_path + ".index"):
        raise CheckpointError(f"no checkpoint at {checkpoint_path} (expected {checkpoint_path}.index)")
    if latest is None:
        raise CheckpointError(f"{model_dir} has no checkpoint in {CHECKPOINT_SUBDIR}/ (train first, or "
                              "the run was stopped before its first save)")
    vocab = text_lib.Vocabulary.load(model_dir)
    train_set = None
    context = {"vocab": vocab, "train_set": train_set, "model_dir": model_dir, "steps_per_epoch": 1,
               **recipe.prepare(config, model_dir, vocab)}
    trainer = recipe.build_trainer(config, context)
    example = recipe.example_batch(config, context)
    trainer.build_from_batch(example)
    checkpoint = recipe.checkpoint(trainer)
    try:
        checkpoint.restore(latest).assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as err:
        raise CheckpointError(f"cannot restore {latest}: {str(err).splitlines()[0]}") from None
    if hasattr(trainer, "sync_ema"):
        trainer.sync_ema()
    return trainer, context

