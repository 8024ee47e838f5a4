"""The run loop every recipe shares.

`train(recipe, config, model_dir, strategy)`:
  1. checks `model_dir` (a stored config must be compatible), writes the resolved config.json;
  2. builds the data (vocabulary saved beside the checkpoints), the strategy and the trainer;
  3. restores the latest checkpoint (models, optimizers, EMA, step, noise RNG) if there is one;
     the data stream is a pure function of the step, so the run continues exactly;
  4. runs Keras `fit` with: a progress bar, TensorBoard scalars and images, checkpoints every N
     steps and on SIGINT/SIGTERM, captioned sample grids, a NaN/inf guard, max steps/minutes.

A recipe supplies the paper-specific parts through the small `Recipe` interface below; the
family's conditioner (t2izoo/conditioning/) supplies the frozen text encoder. Sample grids and the
evaluation after training (`GanRunConfig.eval_images`) are run-loop features of every GAN recipe.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from t2izoo import configs as config_lib
from t2izoo import registry
from t2izoo.callbacks.training import (
    CheckpointCallback,
    NonFiniteGuard,
    SampleGridCallback,
    ScalarLogger,
    StopConditions,
)
from t2izoo.data import text as text_lib
from t2izoo.data.datasets import load_dataset
from t2izoo.data.pipeline import BatchAssembler, make_dataset, tensor_batch
from t2izoo.errors import CheckpointError, ConfigError
from t2izoo.trainers.checkpointing import CHECKPOINT_SUBDIR, make_checkpoint, restore_newest_readable
from t2izoo.trainers.precision import training_precision

STRATEGIES = ("default", "mirrored", "multi_worker")
SAMPLE_ROWS, SAMPLE_COLS = 8, 8


_MULTI_WORKER = []  # the process's one MultiWorkerMirroredStrategy (its collectives start once)


def make_strategy(name: str):
    """`default` (one device), `mirrored` (all local devices), `multi_worker` (reads TF_CONFIG;
    one per process: a second run in the same process reuses it)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if not _MULTI_WORKER:
            check_tf_config(os.environ.get("TF_CONFIG"))
            _MULTI_WORKER.append(tf.distribute.MultiWorkerMirroredStrategy())
        return _MULTI_WORKER[0]
    raise ConfigError(f"unknown --strategy={name!r}; choose one of {', '.join(STRATEGIES)}")


def check_tf_config(text):
    """One line on a missing or malformed TF_CONFIG, before TensorFlow reads it."""
    help_ = ('e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", '
             '"index": 0}}')
    if not text:
        raise ConfigError(f"--strategy=multi_worker needs the TF_CONFIG environment variable ({help_})")
    try:
        spec = json.loads(text)
        cluster, task = spec["cluster"], spec["task"]
        members = cluster[task["type"]]
        if not 0 <= int(task["index"]) < len(members):
            raise ValueError(f"task index {task['index']} is outside its {len(members)} {task['type']} address(es)")
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"TF_CONFIG is not a valid cluster spec ({type(err).__name__}: {err}); {help_}") from None


def is_chief(strategy) -> bool:
    """True for the one process that writes the run directory: the `chief` task, else worker 0."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in (resolver.cluster_spec().as_dict() or {})
    return not has_chief and resolver.task_type == "worker" and resolver.task_id == 0


def is_multi_worker(strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def worker_dir(model_dir: str, strategy) -> str:
    """Where this process writes: `model_dir` for the chief (and every single-process run); for
    another worker a private temporary directory (removed at the end), seeded with the run
    directory's top-level files (config, vocabulary, encoder description, caption caches) so it
    reads what the chief already has and computes the rest itself (the pattern of TensorFlow's
    multi-worker tutorial and Keras `BackupAndRestore`)."""
    if is_chief(strategy):
        return model_dir
    work_dir = tempfile.mkdtemp(prefix=f"t2izoo-worker{strategy.cluster_resolver.task_id}-")
    if os.path.isdir(model_dir):
        for name in os.listdir(model_dir):
            path = os.path.join(model_dir, name)
            if os.path.isfile(path) and not name.startswith("."):
                shutil.copy2(path, work_dir)
    return work_dir


def any_worker(strategy, flag: bool) -> bool:
    """Whether `flag` is true on any worker of a multi-worker run (a collective every worker must
    call at the same point); `flag` itself elsewhere. Stops (max_minutes, signals, a NaN) must be
    agreed, or the workers that go on wait forever for the one that stopped."""
    if not is_multi_worker(strategy):
        return bool(flag)
    total = _sum_over_workers(strategy, tf.constant(1.0 if flag else 0.0))
    return float(total) > 0


def _sum_over_workers(strategy, value):
    fn = _SUM_FNS.get(id(strategy))
    if fn is None:
        @tf.function
        def fn(v):
            per_replica = strategy.run(lambda x: tf.identity(x), args=(v,))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

        _SUM_FNS[id(strategy)] = fn
    return fn(value)


_SUM_FNS = {}


def load_or_build_vocab(model_dir: str, train_set) -> text_lib.Vocabulary:
    path = os.path.join(model_dir, text_lib.VOCAB_FILENAME)
    if os.path.exists(path):
        return text_lib.Vocabulary.load(model_dir)
    vocab = text_lib.Vocabulary.build(c for caps in train_set.captions for c in caps)
    vocab.save(model_dir)
    return vocab


class Recipe:
    """What a paper's recipe provides to the run loop (see t2izoo/models/gan_int_cls/recipe.py).

    `name` is the family's registered name; a GAN family's text encoder comes from its
    registered conditioner kind (`Family.conditioner`).
    """

    name = "recipe"

    @property
    def family(self):
        return registry.get(self.name)

    def conditioner_class(self):
        """The `Conditioner` class of the family's text encoder, or None (pretraining recipes)."""
        from t2izoo.conditioning import conditioner_class

        kind = self.family.conditioner
        return conditioner_class(kind) if kind else None

    def pipeline_options(self, config):
        raise NotImplementedError

    def build_trainer(self, config, context: dict):
        """Builds and compiles the trainer (called inside the strategy scope)."""
        raise NotImplementedError

    def hard_negative_embeddings(self, config, context: dict, image_set):
        """[N, K, D] embeddings of mismatched captions for `PipelineOptions.hard_negative_fraction`."""
        return None

    def hard_negative_tokens(self, config, context: dict, image_set):
        """Optional (word ids int32 [N, K, C, L], lengths int32 [N, K, C]): per image, C
        captions of each of K changed versions of its scene, for word-id recipes'
        `PipelineOptions.hard_negative_fraction` (they replace that share of `wrong_tokens`)."""
        return None

    def hard_negative_chars(self, config, context: dict, image_set):
        """Optional uint8 [N, K, C, 201]: per image, C captions of each of K changed versions of
        its scene; batches then carry `hard_chars`."""
        return None

    def step(self, trainer) -> int:
        return int(trainer.d_optimizer.iterations.numpy())

    def checkpoint(self, trainer) -> tf.train.Checkpoint:
        """Every weight of the trainer, its optimizers' state and the noise RNG state."""
        optimizers = trainer.checkpoint_optimizers()
        extra = {"noise_rng": trainer.noise_rng} if hasattr(trainer, "noise_rng") else {}
        return make_checkpoint(trainer, optimizers, extra)

    def example_batch(self, config, context: dict) -> dict:
        """A batch of the right shapes to build the trainer's variables before a restore: the
        images of every scale and the conditioner's text keys."""
        batch = {"index": tf.range(2)}
        options = self.pipeline_options(config)
        for s in options.image_sizes:
            batch[f"image_{s}"] = tf.zeros((2, s, s, 3))
            if options.wrong_images:
                batch[f"wrong_image_{s}"] = tf.zeros((2, s, s, 3))
        return {**batch, **context["conditioner"].example_batch(config)}

    def check_inputs(self, config, model_dir: str):
        """Raises a T2IError when something the run needs (a pretrained encoder, an earlier
        stage) is missing; called before anything is written. By default: the text encoder."""
        conditioner_cls = self.conditioner_class()
        if conditioner_cls is not None:
            conditioner_cls.check_available(config, model_dir)

    def prepare(self, config, model_dir: str, vocab) -> dict:
        """Recipe-specific set-up before building: by default the family's frozen text encoder
        (`context["conditioner"]`)."""
        conditioner_cls = self.conditioner_class()
        return {} if conditioner_cls is None else {"conditioner": conditioner_cls.for_run(config, model_dir, vocab)}

    @classmethod
    def define_flags(cls):
        """Defines the recipe's own absl flags (beyond `t2izoo.trainers.cli.define_flags`)."""

    def presets_from_flags(self, presets: dict) -> dict:
        """The presets the flags select (default: the family's)."""
        return presets

    def config_from_flags(self, config):
        """The resolved config, checked against (or completed by) the recipe's own flags."""
        return config

    def default_model_dir(self, config) -> str:
        return os.path.join("runs", f"{self.name}_{config.dataset}")

    def finalize(self, trainer, config, context: dict, batches):
        """Called after the last step, before the final checkpoint is written: e.g. to re-estimate
        batch-norm statistics. `batches(n)` yields n training batches as tensors."""

    def finish(self, trainer, config, context: dict, model_dir: str):
        """Called after training and the run loop's own evaluation (e.g. attention figures)."""


def sample_grid(trainer, conditioner, captions, seed: int, cols: int = SAMPLE_COLS):
    """(images, row captions) of a sample grid: `cols` fixed noise vectors per caption through the
    EMA generator; with several scales, one row per (caption, scale), smaller scales upscaled
    (nearest) to the largest."""
    noise = tf.constant(trainer.sampling_noise(np.random.default_rng(seed), len(captions) * cols))
    conditioning = {k: tf.repeat(v, cols, axis=0) for k, v in conditioner.conditioning(captions).items()}
    scales = [np.asarray(x) for x in trainer.generate(conditioning, noise, all_scales=True)]
    if len(scales) == 1:
        return scales[0], list(captions)
    top = scales[-1].shape[1]
    rows, row_captions = [], []
    for i, caption in enumerate(captions):
        for x in scales:
            block = x[i * cols: (i + 1) * cols]
            factor = top // block.shape[1]
            rows.append(block.repeat(factor, axis=1).repeat(factor, axis=2))
            row_captions.append(f"[{x.shape[1]} px] {caption}")
    return np.concatenate(rows), row_captions


def evaluate_after_training(config, model_dir: str, name: str):
    """`shapes` runs with `eval_images` >= 10: the shapes evaluator's accuracies and R-precision
    of the EMA generator on the test and novel splits (appended to eval.jsonl)."""
    if config.dataset != "shapes" or getattr(config, "eval_images", 0) < 10:
        return
    from t2izoo.evaluate import evaluate
    from t2izoo.generate import Text2Image

    t2i = Text2Image.load(model_dir)
    for split in ("test", "novel"):
        r = evaluate(t2i, ["shapes_acc", "shapes_r_precision"], config.eval_images, split, seed=config.seed,
                     verbose=False)
        print(f"[{name}] {split} ({config.eval_images} images, EMA G): colour {100 * r['acc_color']:.1f} %, "
              f"shape {100 * r['acc_shape']:.1f} %, size {100 * r['acc_size']:.1f} %, position "
              f"{100 * r['acc_position']:.1f} %, shapes R-precision {r['shapes_r_precision']:.1f} %; "
              f"colour of one-object scenes {100 * r.get('acc_color_1obj', float('nan')):.1f} %, of "
              f"two-object scenes {100 * r.get('acc_color_2obj', float('nan')):.1f} % (appended to eval.jsonl)")


def total_steps(config, steps_per_epoch: int) -> int:
    return config.max_steps or config.num_epochs * steps_per_epoch


def check_model_dir(config, model_dir: str):
    """Refuses an incompatible stored run (reads only)."""
    stored_path = os.path.join(model_dir, config_lib.CONFIG_FILENAME)
    if os.path.exists(stored_path):
        stored = config_lib.load_config(type(config), model_dir)
        config_lib.check_compatible(stored, config, model_dir)


def fixed_sample_captions(image_set, rows: int = SAMPLE_ROWS) -> list:
    idx = np.linspace(0, len(image_set) - 1, rows).astype(int)
    return [image_set.captions[i][0] for i in idx]


def train_config(config, model_dir: str, strategy_name: str = "default", **kwargs):
    """Trains `config` with its registered family's recipe (see `train`)."""
    recipe = registry.family_of_config(type(config).__name__).make_recipe()
    return train(recipe, config, model_dir, strategy_name, **kwargs)


def train(recipe: Recipe, config, model_dir: str, strategy_name: str = "default", verbose=None,
          extra_callbacks=(), auto_pretrain: bool = False, pretrain_minutes: float = 0.0):
    """Trains `config` with `recipe` in `model_dir`, resuming from its latest checkpoint.

    With `auto_pretrain`, a missing `shapes` text encoder is pretrained first (at most
    `pretrain_minutes`, 0: its full preset; not under `multi_worker`, where the workers would race
    to write it: pretrain first).

    Under `multi_worker` every worker runs this same function: only the chief writes `model_dir`
    (the others write to a private temporary directory, removed at the end), every worker resumes
    from the chief's newest readable checkpoint, and stops are agreed by all workers."""
    if not model_dir:
        raise ConfigError("--model_dir is required")
    options = recipe.pipeline_options(config)  # validates the recipe's options before anything is written
    conditioner_cls = recipe.conditioner_class()
    if auto_pretrain and conditioner_cls is not None and strategy_name != "multi_worker":
        conditioner_cls.ensure_pretrained(config, pretrain_minutes)
    strategy = make_strategy(strategy_name)
    if config.batch_size % strategy.num_replicas_in_sync:
        raise ConfigError(f"batch_size={config.batch_size} is not divisible by the "
                          f"{strategy.num_replicas_in_sync} replicas of --strategy={strategy_name}")
    # Every check that can fail runs before anything is written, so a corrected rerun in the same
    # model_dir is never refused as incompatible with a run that did not start.
    check_model_dir(config, model_dir)
    recipe.check_inputs(config, model_dir)
    train_set = load_dataset(config, "train")
    work_dir = worker_dir(model_dir, strategy)
    try:
        return _train(recipe, config, model_dir, work_dir, strategy, train_set, options, verbose, extra_callbacks)
    finally:
        if work_dir != model_dir:
            shutil.rmtree(work_dir, ignore_errors=True)


def _checkpoint_manager(checkpoint, directory, config):
    try:
        return tf.train.CheckpointManager(
            checkpoint, directory, max_to_keep=3,
            keep_checkpoint_every_n_hours=config.keep_every_minutes / 60.0 if config.keep_every_minutes > 0 else None)
    except (tf.errors.OpError, ValueError) as err:  # an unparsable `checkpoint` state file
        raise CheckpointError(f"{directory}/checkpoint is unreadable ({str(err).strip().splitlines()[0]}); nothing "
                              "was overwritten") from None


def _train(recipe, config, model_dir, work_dir, strategy, train_set, options, verbose, extra_callbacks):
    """`train` after its checks: `work_dir` is where this process writes (`model_dir` on the chief)."""
    chief = work_dir == model_dir
    conditioner_cls = recipe.conditioner_class()
    config_lib.save_config(config, work_dir)  # the resolved config, before the first step
    keras.utils.set_random_seed(config.seed)  # same seed, same initial weights
    if conditioner_cls is not None:
        conditioner_cls.prepare_run_dir(config, work_dir)
    vocab = load_or_build_vocab(work_dir, train_set)
    context = {"vocab": vocab, "train_set": train_set, "model_dir": work_dir,
               **recipe.prepare(config, work_dir, vocab)}
    conditioner = context.get("conditioner")
    embeddings = conditioner.caption_embeddings(work_dir, train_set) if conditioner is not None else None
    if embeddings is not None:
        context["caption_embeddings"] = embeddings
    hard_tokens = (recipe.hard_negative_tokens(config, context, train_set)
                   if options.hard_negative_fraction > 0 else None)
    hard_negatives = (recipe.hard_negative_embeddings(config, context, train_set)
                      if options.hard_negative_fraction > 0 and hard_tokens is None else None)
    hard_chars = recipe.hard_negative_chars(config, context, train_set)
    assembler = BatchAssembler(train_set, vocab, options, embeddings, hard_negatives, hard_chars, hard_tokens)
    steps_per_epoch = max(assembler.num_steps_per_epoch(), 1)
    context["steps_per_epoch"] = steps_per_epoch
    last_step = total_steps(config, steps_per_epoch)

    # Seeded again: the trainer's initial weights must not depend on how much of the global RNG
    # `prepare` used, which differs between a fresh start and a restart (SISGAN trains its text
    # encoder only when its weights file is missing: a run killed before its first checkpoint
    # restarted with other initial weights than the uninterrupted run).
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        with training_precision(config.mixed_precision):  # variables float32 in every precision
            trainer = recipe.build_trainer(config, context)
            trainer.build_from_batch(tensor_batch(assembler(0)))
        checkpoint = recipe.checkpoint(trainer)
    ckpt_dir = os.path.join(model_dir, CHECKPOINT_SUBDIR)
    manager = _checkpoint_manager(checkpoint, ckpt_dir, config)
    # Every worker resumes from the chief's newest readable checkpoint (read only); a worker's
    # own saves (every worker must save: reading distributed variables is a collective) go to
    # its private directory.
    restored = restore_newest_readable(checkpoint, manager, warn=print if chief else logging.info)
    if not chief:
        manager = _checkpoint_manager(checkpoint, os.path.join(work_dir, CHECKPOINT_SUBDIR), config)
    if restored:
        logging.info("resumed from %s", restored)
    step_fn = lambda: recipe.step(trainer)  # noqa: E731
    start = step_fn()
    if start >= last_step:
        if chief:
            print(f"{model_dir} is already at step {start} >= {last_step}; nothing to do")
        return trainer
    say = print if chief else logging.info
    say(f"[{recipe.name}] {config.dataset}: {len(train_set)} training images, {steps_per_epoch} steps/epoch, "
        f"steps {start} -> {last_step}, global batch {config.batch_size} on "
        f"{strategy.num_replicas_in_sync} replica(s); run dir {model_dir}")
    dataset = make_dataset(train_set, vocab, options, embeddings, start_step=start,
                           hard_negative_embeddings=hard_negatives, hard_negative_chars=hard_chars,
                           hard_negative_tokens=hard_tokens)
    if is_multi_worker(strategy):
        # Each worker builds the same global batches and keeps its replicas' rows of each (no input
        # files to shard by).
        data_options = tf.data.Options()
        data_options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        dataset = dataset.with_options(data_options)

    agree = (lambda flag: any_worker(strategy, flag)) if is_multi_worker(strategy) else None
    writer = tf.summary.create_file_writer(os.path.join(model_dir, "tensorboard")) if chief else None
    checkpointer = CheckpointCallback(manager, step_fn, config.checkpoint_every)
    stopper = StopConditions(step_fn, last_step, config.max_minutes, checkpointer, agree=agree)
    callbacks = [NonFiniteGuard(step_fn, agree=agree), checkpointer]
    grids = None
    if conditioner is not None and chief:
        test_set = load_dataset(config, "test")
        if recipe.family.is_manipulation:  # source | result pairs for fixed sources and new captions
            from t2izoo.trainers.manipulation import grid_sampler

            sampler = grid_sampler(trainer, conditioner, test_set, 2 * SAMPLE_ROWS, config.seed + 1)
        else:
            captions = fixed_sample_captions(test_set)
            sampler = lambda: sample_grid(trainer, conditioner, captions, config.seed + 1)  # noqa: E731
        grids = SampleGridCallback(sampler, os.path.join(model_dir, "samples"), step_fn, config.sample_every,
                                   SAMPLE_COLS, writer)
        callbacks.append(grids)
    if writer is not None:
        callbacks.append(ScalarLogger(writer, step_fn, config.log_every))
    callbacks.extend(extra_callbacks)
    callbacks.append(stopper)  # last: sees the step after every other callback acted on it
    log_every = max(config.log_every, 1)
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    t0 = time.time()
    trainer.fit(dataset, epochs=math.ceil(last_step / log_every) + 1, steps_per_epoch=log_every,
                initial_epoch=start // log_every, callbacks=callbacks, verbose=verbose if chief else 0)
    recipe.finalize(trainer, config, context,
                    lambda n: (tensor_batch(assembler(s)) for s in range(n)))
    checkpointer.save(force=True)
    if not chief:
        return trainer
    if grids is not None:
        path = grids.write()
        print(f"sample grid: {path}")
    reason = stopper.reason or f"finished at step {step_fn()}"
    elapsed = time.time() - t0
    print(f"[{recipe.name}] {reason}; {step_fn() - start} steps in {elapsed / 60:.1f} min; "
          f"checkpoint {manager.latest_checkpoint}")
    with open(os.path.join(model_dir, "progress.jsonl"), "a") as f:
        f.write(json.dumps({"step": step_fn(), "elapsed_s": round(elapsed, 1), "reason": reason,
                            "time": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
    if conditioner is not None and not recipe.family.is_manipulation:
        evaluate_after_training(config, model_dir, recipe.name)
    recipe.finish(trainer, config, context, model_dir)
    return trainer
