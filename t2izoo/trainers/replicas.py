"""Batch-level losses under tf.distribute: gather the global batch, keep this replica's rows.

Contrastive losses (DAMSM) score every image against every caption of the batch, so per-replica
batches would change the loss. Each replica all-gathers the features of the global batch
(`ReplicaContext.all_gather`, whose gradient returns each replica its slice), computes the
per-example losses of the global batch, and averages those of its own examples; divided by
`num_replicas_in_sync` and summed over replicas that is the single-device mean.
"""

import tensorflow as tf


def gather_global_batch(values):
    """(values gathered along axis 0 over replicas, offset of this replica's rows, local size)."""
    ctx = tf.distribute.get_replica_context()
    first = tf.nest.flatten(values)[0]
    local = tf.shape(first)[0]
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return values, 0, local
    # One all-gather per tensor: a batched call mixes host (int32) and device tensors, and its
    # gradient packs the incoming gradients of different ranks into one tensor (TF 2.21).
    gather = _all_gather_by_sum if isinstance(tf.distribute.get_strategy(),
                                              tf.distribute.MultiWorkerMirroredStrategy) else _all_gather
    gathered = [gather(ctx, v) for v in tf.nest.flatten(values)]
    return tf.nest.pack_sequence_as(values, gathered), ctx.replica_id_in_sync_group * local, local


def _all_gather(ctx, v):
    return ctx.all_gather(v, axis=0)


def _all_gather_by_sum(ctx, v):
    """`all_gather` as a SUM all-reduce of copies zero-padded to the global batch, each replica's
    rows at its offset (equal per-replica batches). Under MultiWorkerMirroredStrategy (TF 2.21)
    `all_gather` fails ("destinations can not be empty"); `all_reduce`'s gradient is the all-reduced
    gradient, whose rows at the offset are this replica's, as `all_gather`'s is."""
    n, i = ctx.num_replicas_in_sync, ctx.replica_id_in_sync_group
    local = tf.shape(v)[0]
    rows = tf.reshape(tf.stack([i * local, (n - 1 - i) * local]), (1, 2))
    paddings = tf.concat([rows, tf.zeros((tf.rank(v) - 1, 2), tf.int32)], axis=0)
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.pad(v, paddings))


def local_mean(per_example, offset, local):
    """Mean of this replica's entries of a global per-example vector."""
    return tf.reduce_mean(per_example[offset:offset + local])


def clip_summed_gradients(grads, clip_norm):
    """Per-replica gradients whose sum over replicas has global norm at most `clip_norm`.

    A Keras optimizer's `global_clipnorm` clips each replica's gradient before the sum, so two
    replicas can apply up to twice the clip. This clips the summed gradient (what one device
    clips) and hands each replica 1/num_replicas of it; the optimizer's own clip then never acts.
    Unchanged on one replica or without a clip.
    """
    ctx = tf.distribute.get_replica_context()
    if not clip_norm or ctx is None or ctx.num_replicas_in_sync == 1:
        return grads
    summed = ctx.all_reduce(tf.distribute.ReduceOp.SUM, list(grads))
    clipped, _ = tf.clip_by_global_norm(summed, clip_norm)
    return [g / ctx.num_replicas_in_sync for g in clipped]
