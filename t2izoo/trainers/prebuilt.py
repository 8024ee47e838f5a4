"""`PrebuiltTrainer`: the base of every trainer the run loop drives with Keras `fit`."""

from __future__ import annotations

import keras
import tensorflow as tf


class PrebuiltTrainer(keras.Model):
    """A keras.Model whose variables are all created by `build_from_batch(batch)` from a real
    batch before `fit` (so that a checkpoint can be restored first), which then sets `built`.

    Under a distribution strategy Keras' `fit` (TF backend) would otherwise draw one batch from
    the iterator and build the model a second time from a symbolic copy of it: under
    `MultiWorkerMirroredStrategy` it cannot reduce a dict of per-replica values and fails before
    the first step, and under every strategy that batch is consumed, so the run would not see the
    data stream it resumes into. Nothing is left for it to build here (the trainers compile no
    Keras loss, metric or `optimizer`), so it is skipped.

    Under `MultiWorkerMirroredStrategy`, Keras 3.15 averages each replica's logs with
    `strategy.reduce("MEAN", value, axis=0)`, which fails on the scalar logs every `train_step`
    returns; they are given a length-1 axis there, so the logs are the mean over all replicas.
    """

    def build_from_batch(self, batch):
        raise NotImplementedError

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _make_function(self, step_function):
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            per_replica = step_function

            def step_function(data):
                return tf.nest.map_structure(lambda v: tf.reshape(v, [1]), per_replica(data))

        return super()._make_function(step_function)
