"""Callbacks of the shared run loop: checkpoints, stop conditions, NaN guard, sample grids."""

from __future__ import annotations

import math
import os
import signal
import time

import keras
from absl import logging

from t2izoo.errors import TrainingDiverged


class CheckpointCallback(keras.callbacks.Callback):
    """Saves every `every` steps, at the end, and when a stop was requested.

    `tf.train.CheckpointManager` writes the new files first and only then rewrites the
    `checkpoint` index, so an interrupted save never replaces the last complete checkpoint.
    """

    def __init__(self, manager, step_fn, every: int):
        super().__init__()
        self.manager = manager
        self.step_fn = step_fn
        self.every = every
        self.last_saved = None

    def save(self, force: bool = False):
        """Saves unless this step is already saved (`force`: save again, e.g. after the
        final batch-norm re-estimation changed the statistics)."""
        step = self.step_fn()
        if force or step != self.last_saved:
            self.manager.save(checkpoint_number=step)
            self.last_saved = step
            logging.info("checkpoint saved at step %d: %s", step, self.manager.latest_checkpoint)

    def on_train_batch_end(self, batch, logs=None):
        if self.every and self.step_fn() % self.every == 0:
            self.save()


class StopConditions(keras.callbacks.Callback):
    """Stops at `max_steps`, after `max_minutes`, or on SIGINT/SIGTERM (after a checkpoint).

    `agree(flag) -> bool`: under a multi-worker strategy, whether any worker wants to stop (a
    collective every worker calls after every step), so that all stop at the same step."""

    def __init__(self, step_fn, max_steps: int, max_minutes: float, checkpointer: CheckpointCallback,
                 agree=None):
        super().__init__()
        self.agree = agree
        self.step_fn = step_fn
        self.max_steps = max_steps
        self.max_minutes = max_minutes
        self.checkpointer = checkpointer
        self.reason = None
        self._signal = None
        self._previous = {}

    def _handler(self, signum, frame):
        self._signal = signal.Signals(signum).name

    def on_train_begin(self, logs=None):
        self.start = time.time()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread
                pass

    def on_train_end(self, logs=None):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def on_train_batch_end(self, batch, logs=None):
        step = self.step_fn()
        if self._signal:
            self.reason = f"interrupted by {self._signal} at step {step}"
        elif self.max_steps and step >= self.max_steps:
            self.reason = f"reached max_steps={self.max_steps}"
        elif self.max_minutes and time.time() - self.start >= 60 * self.max_minutes:
            self.reason = f"reached max_minutes={self.max_minutes:g} at step {step}"
        if self.agree is not None and self.agree(self.reason is not None) and not self.reason:
            self.reason = f"another worker stopped at step {step}"
        if self.reason:
            self.checkpointer.save()
            self.model.stop_training = True


class NonFiniteGuard(keras.callbacks.Callback):
    """Raises TrainingDiverged on a NaN/inf loss, before any later checkpoint is written.

    `agree(flag) -> bool`: as in `StopConditions`, so every worker of a multi-worker run stops."""

    def __init__(self, step_fn, agree=None):
        super().__init__()
        self.step_fn = step_fn
        self.agree = agree

    def on_train_batch_end(self, batch, logs=None):
        bad = [(name, float(value)) for name, value in (logs or {}).items() if not math.isfinite(float(value))]
        if self.agree is not None and self.agree(bool(bad)) and not bad:
            raise TrainingDiverged(f"another worker's loss became non-finite at step {self.step_fn()}; training "
                                   "stopped. The last good checkpoint is kept.")
        for name, value in bad:
            raise TrainingDiverged(
                f"{name} became {value} at step {self.step_fn()}; training stopped. The last "
                "good checkpoint is kept: lower the learning rate or check the data, then resume.")


class SampleGridCallback(keras.callbacks.Callback):
    """Writes a captioned grid of EMA-generator samples every `every` steps.

    Args:
        sampler: callable() -> (images float [rows * cols, S, S, 3] in [-1, 1], row captions),
            already using fixed captions and noise so grids are comparable across steps.
        out_dir: the grids go to out_dir/step_XXXXXXX.png and out_dir/latest.png.
        writer: optional tf.summary writer for TensorBoard images.
    """

    def __init__(self, sampler, out_dir, step_fn, every: int, cols: int, writer=None):
        super().__init__()
        self.sampler = sampler
        self.out_dir = out_dir
        self.step_fn = step_fn
        self.every = every
        self.cols = cols
        self.writer = writer

    def write(self):
        from t2izoo.utils.grid import save_captioned_grid

        step = self.step_fn()
        images, captions = self.sampler()
        os.makedirs(self.out_dir, exist_ok=True)
        path = os.path.join(self.out_dir, f"step_{step:07d}.png")
        grid = save_captioned_grid(images, captions, self.cols, path)
        save_captioned_grid(images, captions, self.cols, os.path.join(self.out_dir, "latest.png"))
        if self.writer is not None:
            import tensorflow as tf

            with self.writer.as_default():
                tf.summary.image("samples", grid[None], step=step)
        return path

    def on_train_batch_end(self, batch, logs=None):
        if self.every and self.step_fn() % self.every == 0:
            self.write()


class ScalarLogger(keras.callbacks.Callback):
    """TensorBoard scalars per step interval, plus steps/s on the log line."""

    def __init__(self, writer, step_fn, every: int):
        super().__init__()
        self.writer = writer
        self.step_fn = step_fn
        self.every = max(every, 1)

    def on_train_begin(self, logs=None):
        self._t, self._s = time.time(), self.step_fn()

    def on_train_batch_end(self, batch, logs=None):
        step = self.step_fn()
        if step % self.every:
            return
        import tensorflow as tf

        rate = (step - self._s) / max(time.time() - self._t, 1e-9)
        self._t, self._s = time.time(), step
        with self.writer.as_default():
            for name, value in (logs or {}).items():
                tf.summary.scalar(name, float(value), step=step)
            tf.summary.scalar("steps_per_second", rate, step=step)
        self.writer.flush()
        logging.info("step %d (%.2f steps/s): %s", step, rate,
                     ", ".join(f"{k}={float(v):.4f}" for k, v in sorted((logs or {}).items())))

