"""Checkpoints that list every variable explicitly.

Keras 3 layers do not expose all of their variables to `tf.train.Checkpoint`'s object graph
(sub-layers assigned in `__init__` can be missing, so their weights would silently not be
saved). We therefore checkpoint flat, ordered variable lists: the trainer's `weights` (every
model, frozen encoders, batch-norm statistics and EMA copies, in Keras' deterministic order),
each optimizer's `variables`, and the noise generator. The same code and config rebuild the
same lists, so a restore is exact; a different architecture fails loudly on shapes.
"""

import tensorflow as tf


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
