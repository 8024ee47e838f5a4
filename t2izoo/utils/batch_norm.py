"""Re-estimating batch-norm statistics after training ("precise BN").

An encoder trained with a large learning rate keeps moving until its last step, so the running
averages of its batch-norm layers (momentum 0.99: a window of ~100 steps) describe weights that
no longer exist. Inference then normalises with the wrong statistics. We measured it on the
shapes DS-SJE image encoder: test R-precision 8 % with the running averages, 85 % with the
statistics re-estimated over 100 training batches, 84 % with per-batch statistics.

Reference: Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021, Sec. 3 (precise BN).
"""

from __future__ import annotations

import keras


def batch_norm_layers(model) -> list:
    """Every `keras.layers.BatchNormalization` inside `model`, nested ones included."""
    layers = model._flatten_layers(include_self=True, recursive=True)
    return [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]


def recompute_batch_norm_statistics(model, batches, forward) -> int:
    """Sets every BN layer's moving mean/variance of `model` to the average over `batches`.

    Args:
        model: a Keras model (or layer) holding the BN layers.
        batches: iterable of inputs; `forward(batch)` must call `model` with `training=True`.
        forward: callable(batch) that runs the model in training mode (its output is ignored).

    Returns: the number of batches used (0 leaves the statistics unchanged).

    Running averages with momentum (k - 1) / k at batch k are exactly the mean of the k batch
    statistics, so no reset is needed; trainable weights are not touched (no gradient step).
    """
    layers = batch_norm_layers(model)
    momenta = [layer.momentum for layer in layers]
    count = 0
    try:
        for count, batch in enumerate(batches, start=1):
            for layer in layers:
                layer.momentum = (count - 1) / count
            forward(batch)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return count


def refresh_small_cnn_statistics(image_encoder, config, batches):
    """Precise BN for a pretraining recipe's image encoder when it is the from-scratch `small_cnn`
    (a pretrained Inception stays frozen, statistics included); `batches` are training batches."""
    if config.image_encoder != "small_cnn":
        return
    key = f"image_{config.image_size}"
    recompute_batch_norm_statistics(image_encoder, batches, lambda b: image_encoder(b[key], training=True))
