"""Checkpoints that list every variable explicitly.

Keras 3 layers do not expose all of their variables to `tf.train.Checkpoint`'s object graph
(sub-layers assigned in `__init__` can be missing, so their weights would silently not be
saved). We therefore checkpoint flat, ordered variable lists: the trainer's `weights` (every
model, frozen encoders, batch-norm statistics and EMA copies, in Keras' deterministic order),
the states of its Keras `SeedGenerator`s (dropout masks, a layer's own noise: `trainer.variables`
beyond `trainer.weights`), each optimizer's `variables`, and the noise generator. The same code
and config rebuild the same lists, so a restore is exact; a different architecture fails loudly
on shapes.

Checkpoints written before the seed-generator states were saved (t2izoo 0.1 and runs trained
until issue #26) hold no `seed_states` entry; they restore as before, and the seed generators
keep the states they were built with (one log line says so).
"""

import os

import tensorflow as tf
from absl import logging

from t2izoo.data import text as text_lib
from t2izoo.errors import CheckpointError

CHECKPOINT_SUBDIR = "checkpoints"


def _tf_variable(v):
    return getattr(v, "value", v) if not isinstance(v, tf.Variable) else v


class _VariableList(tf.Module):
    def __init__(self, variables):
        super().__init__()
        self.values = [_tf_variable(v) for v in variables]


SEED_STATES = "seed_states"  # the checkpoint entry of the trainer's SeedGenerator states


def seed_generator_states(trainer) -> list:
    """The state variables of every Keras `SeedGenerator` the trainer tracks, in Keras' order:
    `trainer.variables` less `trainer.weights` (Keras counts seed states as variables, not weights)."""
    weights = {id(w) for w in trainer.weights}
    states, seen = [], set()
    for v in trainer.variables:
        if id(v) not in weights and id(v) not in seen:
            seen.add(id(v))
            states.append(v)
    return states


class _EarlierParts:
    """A plain holder (not trackable, so not part of the checkpoint's object graph)."""

    def __init__(self, parts):
        self.parts = parts


class _Checkpoint(tf.train.Checkpoint):
    """A `tf.train.Checkpoint` whose `restore` also reads checkpoints written before the
    seed-generator states were saved: those restore everything they hold (the same checks, e.g.
    `assert_existing_objects_matched`, apply to it), and the seed generators keep their state."""

    def __init__(self, parts: dict, seed_states: list):
        super().__init__(**parts, **({SEED_STATES: _VariableList(seed_states)} if seed_states else {}))
        self._earlier = _EarlierParts(parts)

    def restore(self, save_path, options=None):
        if save_path is None or not hasattr(self, SEED_STATES) or _has_entry(save_path, SEED_STATES):
            return super().restore(save_path, options=options)
        logging.info("%s predates saved seed-generator states: they keep their fresh state (dropout masks "
                     "and layer noise after the restore differ from the original run's)", save_path)
        earlier = tf.train.Checkpoint(**self._earlier.parts)
        status = earlier.restore(save_path, options=options)
        self.save_counter.assign(earlier.save_counter)
        return status


def _has_entry(save_path, name: str) -> bool:
    """Whether the checkpoint at `save_path` holds anything under the top-level entry `name`."""
    try:
        keys = tf.train.load_checkpoint(save_path).get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError):
        return True  # unreadable: let the full restore report it
    return any(k.startswith(name + "/") for k in keys)


def checkpoint_problem(prefix: str):
    """Why the checkpoint at `prefix` cannot be restored (its index missing, a data file empty,
    truncated or corrupt: a save or a copy cut short), read back tensor by tensor; None when whole."""
    if not os.path.exists(prefix + ".index"):
        return f"{os.path.basename(prefix)}.index is missing (half-written)"
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError, OSError) as err:
        # A truncated data file gives DataLossError, OutOfRangeError or IndexError ("Read less
        # bytes than requested") depending on where the cut falls.
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"incomplete or corrupt ({first})"
    return None


def listed_checkpoints(manager) -> list:
    """Every checkpoint prefix the directory's `checkpoint` state file lists, oldest first (the
    newest, `model_checkpoint_path`, last).

    `manager.checkpoints` is not that list: `tf.train.CheckpointManager` lists only the
    checkpoints it may still delete, and so none of a state file without timestamps (written by
    hand, by a copy tool or by `tf.train.update_checkpoint_state`): resuming from its list alone
    started such a run afresh from step 0 beside its checkpoints, and overwrote them.
    """
    state = tf.train.get_checkpoint_state(manager.directory)
    if state is None:
        return []
    paths = [p for p in state.all_model_checkpoint_paths if p != state.model_checkpoint_path]
    paths += [p for p in manager.checkpoints if p not in paths and p != state.model_checkpoint_path]
    if state.model_checkpoint_path:
        paths.append(state.model_checkpoint_path)
    return paths


def restore_newest_readable(checkpoint, manager, warn=print):
    """Restores the newest of the checkpoints `manager`'s directory lists (`listed_checkpoints`)
    that reads back whole and returns its path (None when there is none). A newer damaged one
    (disk full, killed during a copy) is skipped with a one-line warning; when every checkpoint
    is damaged the run is refused, and its files are left as they are.

    Raises:
        CheckpointError: every checkpoint is unreadable, or one is whole but of another
            architecture.
    """
    skipped = []
    for prefix in reversed(listed_checkpoints(manager)):  # newest first
        problem = checkpoint_problem(prefix)
        if problem:
            warn(f"warning: checkpoint {prefix} is {problem}; resuming from an earlier one")
            skipped.append(f"{os.path.basename(prefix)}: {problem}")
            continue
        try:
            checkpoint.restore(prefix).assert_existing_objects_matched()
        except (tf.errors.OpError, AssertionError, ValueError) as err:
            raise CheckpointError(f"cannot restore {prefix}: {str(err).splitlines()[0]}") from None
        return prefix
    if skipped:
        raise CheckpointError(f"{manager.directory} holds no readable checkpoint ({'; '.join(skipped)}); nothing "
                              "was overwritten: move the directory away to start afresh, or restore a copy")
    return None


def make_checkpoint(trainer, optimizers, extra=None) -> tf.train.Checkpoint:
    """A checkpoint of `trainer.weights`, its seed-generator states (when it has any), the
    optimizers' variables and `extra` trackables."""
    parts = {"model": _VariableList(trainer.weights)}
    for i, optimizer in enumerate(optimizers):
        parts[f"optimizer_{i}"] = _VariableList(optimizer.variables)
    parts.update(extra or {})
    return _Checkpoint(parts, seed_generator_states(trainer))


def _quiet_latest_checkpoint(ckpt_dir: str):
    """`tf.train.latest_checkpoint` without its warnings for an unparsable state file (None then:
    the caller says so in one line)."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        return tf.train.latest_checkpoint(ckpt_dir)
    finally:
        logger.setLevel(level)


def restore_for_inference(recipe, config, model_dir: str, checkpoint_path: str | None = None):
    """Builds the trainer of a finished/paused run and restores its latest (or the given) checkpoint."""
    ckpt_dir = os.path.join(model_dir, CHECKPOINT_SUBDIR)
    latest = checkpoint_path or _quiet_latest_checkpoint(ckpt_dir)
    if checkpoint_path and not os.path.exists(checkpoint_path + ".index"):
        raise CheckpointError(f"no checkpoint at {checkpoint_path} (expected {checkpoint_path}.index)")
    if latest is None and os.path.isfile(os.path.join(ckpt_dir, "checkpoint")):
        raise CheckpointError(f"{os.path.join(ckpt_dir, 'checkpoint')} names no readable checkpoint (an unparsable "
                              "or empty state file): restore the file, or name a checkpoint "
                              "(t2izoo.evaluate --checkpoint)")
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
    except (tf.errors.OpError, AssertionError, ValueError, IndexError) as err:
        # A truncated data file raised IndexError ("Read less bytes than requested") as a stack
        # trace; it is read tensor by tensor only here, on failure, so a whole one loads once.
        problem = checkpoint_problem(latest)
        if problem:
            raise CheckpointError(f"checkpoint {latest} is {problem}: restore a whole copy, or evaluate an "
                                  "earlier one (t2izoo.evaluate --checkpoint)") from None
        raise CheckpointError(f"cannot restore {latest}: {str(err).splitlines()[0]}") from None
    if hasattr(trainer, "sync_ema"):
        trainer.sync_ema()
    return trainer, context

