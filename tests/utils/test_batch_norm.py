"""Precise batch-norm statistics: the maths, and that pretraining runs save them."""

import keras
import numpy as np

from t2izoo.encoders.small_cnn import SmallImageEncoder
from t2izoo.testing import tiny
from t2izoo.utils.batch_norm import batch_norm_layers, recompute_batch_norm_statistics


def _batches(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(2.0, 3.0, (16, 8, 8, 3)).astype("float32") for _ in range(n)]


def test_statistics_are_the_mean_over_the_batches():
    model = SmallImageEncoder(8, widths=(4, 8))
    batches = _batches(5)
    model(batches[0])
    first = batch_norm_layers(model)[0]
    assert len(batch_norm_layers(model)) == 2

    used = recompute_batch_norm_statistics(model, batches, lambda b: model(b, training=True))

    conv_out = [keras.ops.convert_to_numpy(model.convs[0](b)) for b in batches]
    assert used == 5
    np.testing.assert_allclose(first.moving_mean.numpy(), np.mean([h.mean((0, 1, 2)) for h in conv_out], 0),
                               atol=1e-5)
    np.testing.assert_allclose(first.moving_variance.numpy(), np.mean([h.var((0, 1, 2)) for h in conv_out], 0),
                               rtol=1e-4)
    assert first.momentum == 0.99  # restored


def test_no_batches_leave_the_statistics_alone():
    model = SmallImageEncoder(8, widths=(4,))
    model(_batches(1)[0])
    before = [w.numpy().copy() for w in model.weights]
    assert recompute_batch_norm_statistics(model, [], lambda b: model(b, training=True)) == 0
    for b, w in zip(before, model.weights):
        np.testing.assert_array_equal(b, w.numpy())


def test_char_cnn_rnn_run_saves_re_estimated_image_statistics(tmp_path, monkeypatch):
    from t2izoo.conditioning.char_cnn_rnn import pretrain as char_cnn_rnn
    from t2izoo.trainers import run_loop
    from t2izoo.trainers.checkpointing import restore_for_inference
    from t2izoo.utils import batch_norm

    recorded = {}
    monkeypatch.setattr(char_cnn_rnn, "BN_BATCHES", 3)

    def recording(model, batches, forward):
        used = recompute_batch_norm_statistics(model, batches, forward)
        recorded["used"] = used
        recorded["stats"] = [v.numpy().copy() for layer in batch_norm_layers(model)
                             for v in (layer.moving_mean, layer.moving_variance)]
        return used

    monkeypatch.setattr(batch_norm, "recompute_batch_norm_statistics", recording)
    config = tiny.tiny_config("char_cnn_rnn", max_steps=2, checkpoint_every=2)  # step 2 is saved before finalize
    run_loop.train_config(config, str(tmp_path), verbose=0)

    trainer, _ = restore_for_inference(char_cnn_rnn.CharCnnRnnRecipe(), config, str(tmp_path))
    restored = [v.numpy() for layer in batch_norm_layers(trainer.image_encoder)
                for v in (layer.moving_mean, layer.moving_variance)]
    assert recorded["used"] == 3
    for want, got in zip(recorded["stats"], restored):
        np.testing.assert_array_equal(want, got)
