"""Which checkpoints a run resumes from (`t2izoo.trainers.checkpointing`), on a one-variable
checkpoint: no training needed."""

import tensorflow as tf

from t2izoo.trainers.checkpointing import listed_checkpoints, restore_newest_readable


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
