"""Which checkpoints a run resumes from (`t2izoo.trainers.checkpointing`), on a one-variable
checkpoint, and what a checkpoint holds (seed-generator states, with checkpoints written before
they were saved), on a one-layer model: no training needed."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from t2izoo.trainers.checkpointing import (SEED_STATES, _VariableList, listed_checkpoints, make_checkpoint,
                                          restore_newest_readable, seed_generator_states)


def _saved_steps(directory, steps):
    value = tf.Variable(0.0)
    checkpoint = tf.train.Checkpoint(value=value)
    manager = tf.train.CheckpointManager(checkpoint, str(directory), max_to_keep=3)
    for step in steps:
        value.assign(float(step))
        manager.save(checkpoint_number=step)
    return value, checkpoint


def _resume(directory, checkpoint):
    checkpoint.value.assign(-1.0)
    manager = tf.train.CheckpointManager(checkpoint, str(directory), max_to_keep=3)
    return restore_newest_readable(checkpoint, manager, warn=lambda _: None)


def test_a_state_file_without_timestamps_is_resumed_from_its_newest_checkpoint(tmp_path):
    """tf.train.CheckpointManager lists none of the paths of such a file (`manager.checkpoints`
    is empty): a run used to start afresh from step 0 beside its checkpoints (issue #26)."""
    value, checkpoint = _saved_steps(tmp_path, [1, 2, 3])
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-1"\n'
                                         'all_model_checkpoint_paths: "ckpt-2"\n')
    manager = tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=3)
    assert manager.checkpoints == []
    assert [p.rsplit("/", 1)[-1] for p in listed_checkpoints(manager)] == ["ckpt-1", "ckpt-2"]
    assert _resume(tmp_path, checkpoint).endswith("ckpt-2") and float(value) == 2.0


def test_an_empty_directory_restores_nothing(tmp_path):
    value = tf.Variable(7.0)
    checkpoint = tf.train.Checkpoint(value=value)
    manager = tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=3)
    assert listed_checkpoints(manager) == [] and restore_newest_readable(checkpoint, manager) is None
    assert float(value) == 7.0


def _dropout_model():
    """A one-layer model with a dropout SeedGenerator, built, with its optimizer's variables."""
    model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dropout(0.5, seed=1)])
    model.build((None, 4))
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    return model, optimizer


def _draw_dropout(model):
    return np.asarray(model(np.ones((2, 4), np.float32), training=True))


def test_seed_generator_states_are_saved_and_restored(tmp_path):
    """A dropout mask after a resume is the one the uninterrupted run drew (issue #26: DAMSM's
    embedding dropout drew other masks after every resume)."""
    model, optimizer = _dropout_model()
    (state,) = seed_generator_states(model)
    assert "seed_generator" in state.path and all(id(state) != id(w) for w in model.weights)
    checkpoint = make_checkpoint(model, [optimizer])
    _draw_dropout(model)
    prefix = checkpoint.save(str(tmp_path / "ckpt"))
    assert any(k.startswith(SEED_STATES + "/") for k in tf.train.load_checkpoint(prefix).get_variable_to_shape_map())
    want = _draw_dropout(model)
    _draw_dropout(model)  # the state moves on
    checkpoint.restore(prefix).assert_existing_objects_matched()
    np.testing.assert_array_equal(_draw_dropout(model), want)


def test_a_checkpoint_without_seed_states_still_restores(tmp_path):
    """A checkpoint written before the seed states were saved restores its weights and leaves
    the seed generator as it was, under the same strict check as a new checkpoint."""
    model, optimizer = _dropout_model()
    (state,) = seed_generator_states(model)
    old = tf.train.Checkpoint(model=_VariableList(model.weights), optimizer_0=_VariableList(optimizer.variables))
    saved = [np.asarray(w) for w in model.weights]
    prefix = old.save(str(tmp_path / "ckpt"))
    assert not any(k.startswith(SEED_STATES) for k in tf.train.load_checkpoint(prefix).get_variable_to_shape_map())
    for w in model.weights:
        w.assign(np.zeros(w.shape))
    _draw_dropout(model)
    fresh = np.asarray(state)
    checkpoint = make_checkpoint(model, [optimizer])
    checkpoint.restore(prefix).assert_existing_objects_matched()
    for w, value in zip(model.weights, saved):
        np.testing.assert_array_equal(w, value)
    np.testing.assert_array_equal(state, fresh)
    assert int(checkpoint.save_counter) == 1  # a save after it is numbered after the old one
    # A checkpoint missing more than the seed states is still refused.
    with pytest.raises(AssertionError):
        bare = tf.train.Checkpoint(model=_VariableList(model.weights))
        make_checkpoint(model, [optimizer]).restore(bare.save(str(tmp_path / "bare"))).assert_existing_objects_matched()
