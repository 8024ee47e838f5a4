"""`GANTrainer`: the alternating D/G `train_step` that every recipe's trainer extends."""

from __future__ import annotations

import threading

import keras
import numpy as np
import tensorflow as tf

from t2izoo.configs import WEIGHTS_INITS
from t2izoo.layers.init import orthogonal_init
from t2izoo.trainers.prebuilt import PrebuiltTrainer
from t2izoo.trainers.precision import float32_copy_config, training_precision, unscaled


def truncated_normal(rng, shape, bound: float = 2.0) -> np.ndarray:
    """N(0, 1) draws with every value beyond `bound` redrawn (`tf.random.truncated_normal`)."""
    x = rng.standard_normal(shape)
    bad = np.abs(x) > bound
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > bound
    return x


def draw_noise(rng, num: int, width: int, truncated_width: int = 0) -> np.ndarray:
    """float32 [num, width]: standard normal, the last `truncated_width` columns truncated normal.
    With no truncated columns, the very draw `rng.normal(size=(num, width))`."""
    z = rng.normal(size=(num, width - truncated_width))
    if truncated_width:
        z = np.concatenate([z, truncated_normal(rng, (num, truncated_width))], axis=1)
    return z.astype(np.float32)


def frozen(model):
    """`model` with its weights frozen: a pretrained encoder or earlier stage a trainer keeps with
    its checkpoint but never trains (None passes through)."""
    if model is not None:
        model.trainable = False
    return model


class GANTrainer(PrebuiltTrainer):
    """A keras.Model whose `train_step` updates the discriminator(s), then the generator.

    A family's trainer implements:
      * `batch_conditioning(batch)`: the generator's text conditioning from a training batch (the
        same dict the family's conditioner makes from captions: `{"embedding"}` for char-CNN-RNN
        models, `{"words", "sentence", "lengths"}` for DAMSM models);
      * `forward(generator, conditioning, noise, training)`: (images of every scale, smallest
        first; dict of extras such as the CA mean and log sigma or attention maps): the one
        generation path, used by the losses and by `generate`;
      * `discriminator_loss(batch, noise)` and `generator_loss(batch, noise)`, each returning
        (scalar loss, dict of named terms).
    `generate(conditioning, noise, all_scales=False)` runs `forward` on the EMA generator; sample
    grids, `t2izoo.generate`, `t2izoo.evaluate` and both export formats call it.

    Distribution: under a `tf.distribute` strategy `train_step` runs per replica and the
    optimizer sums gradients over replicas, so each replica's loss is divided by
    `num_replicas_in_sync` (the average over the global batch, as on one device). Noise comes
    from `batch["noise"]` when the pipeline provides it, else from a `tf.random.Generator`
    created under the strategy scope, which gives each replica its own stream.

    EMA: `ema_decay` > 0 keeps an exponential moving average of the generator's trainable
    weights (StackGAN++/AttnGAN `avg_param_G`), used by `ema_generator` for samples and export;
    the decay ramps up as min(ema_decay, (1 + t) / (10 + t)) over the first steps t.
    Like the PyTorch originals, batch-norm running statistics are taken from the live generator.

    Args:
        generator: keras.Model.
        discriminator: keras.Model (or a container of several; its `trainable_variables` are
            the D side).
        z_dim: noise size.
        ema_decay: EMA decay (0 disables).
        seed: noise seed (and the seed of `weights_init`).
        weights_init: "normal" (the layers' own N(0, 0.02)) or "orthogonal" (StackGAN-v2's and
            AttnGAN's `weights_init`, applied to G and D when the trainer is built, before the EMA
            copy is taken; `t2izoo.layers.init.orthogonal_init`).
    """

    def __init__(self, generator, discriminator, z_dim=100, ema_decay=0.999, seed=0, weights_init="normal",
                 **kwargs):
        super().__init__(**kwargs)
        if weights_init not in WEIGHTS_INITS:
            raise ValueError(f"weights_init must be one of {WEIGHTS_INITS}, got {weights_init!r}")
        self.weights_init = weights_init
        self.generator = generator
        self.discriminator = discriminator
        self.z_dim = z_dim
        self.ema_decay = ema_decay
        self.seed = seed
        self.noise_rng = tf.random.Generator.from_seed(seed)
        object.__setattr__(self, "_ema_generator", None)
        object.__setattr__(self, "_example", None)  # (conditioning, noise) that builds the EMA generator
        object.__setattr__(self, "_ema_synced_at", None)  # G step of the last `sync_ema`
        # `shared_forward`'s cache while a step is traced: one per thread, as MirroredStrategy
        # traces each replica's step in a thread of its own.
        object.__setattr__(self, "_step_local", threading.local())
        self.ema_weights = []

    # -- set-up ---------------------------------------------------------------------------------
    def compile(self, g_optimizer, d_optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        names = ["d_loss", "g_loss"] + list(self.loss_term_names())
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}

    def checkpoint_optimizers(self):
        return [unscaled(self.g_optimizer), unscaled(self.d_optimizer)]

    def loss_term_names(self):
        """Names of the extra loss terms that `train_step` reports."""
        return ()

    def generator_variables(self):
        """Variables the G update changes (override to add e.g. a trainable text encoder)."""
        return self.generator.trainable_variables

    def discriminator_variables(self):
        return self.discriminator.trainable_variables

    def build_from_batch(self, batch):
        """Creates every variable (models, EMA, optimizers) from one batch, before restoring."""
        noise = self.sample_noise(batch)
        self.discriminator_loss(batch, noise)
        self.generator_loss(batch, noise)
        if self.weights_init == "orthogonal" and not self.built:
            orthogonal_init(self.generator, self.seed)
            orthogonal_init(self.discriminator, self.seed + 1)
        object.__setattr__(self, "_example", (self.batch_conditioning(batch), noise))
        if self.ema_decay > 0 and not self.ema_weights:
            self.ema_weights = [
                keras.Variable(np.array(v.numpy()), trainable=False,
                               aggregation="only_first_replica", name=f"ema_{i}")
                for i, v in enumerate(self.generator.trainable_variables)]
        self.g_optimizer.build(self.generator_variables())
        self.d_optimizer.build(self.discriminator_variables())
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    # -- per-step pieces ------------------------------------------------------------------------
    def batch_size_of(self, batch):
        return tf.shape(batch["index"])[0]

    def noise_width(self) -> int:
        """Width of the noise `forward` takes (z here; z and CA noise in `ConditioningNoiseMixin`)."""
        return self.z_dim

    def truncated_noise_width(self) -> int:
        """How many trailing noise columns are drawn from a truncated normal (|x| <= 2 std, as
        `tf.random.truncated_normal`) in training, and so also when sampling (`sampling_noise`)."""
        return 0

    def sampling_noise(self, rng, num: int) -> np.ndarray:
        """float32 [num, noise_width()] for generation from a NumPy Generator: standard normal,
        except the `truncated_noise_width()` trailing columns, drawn as in training."""
        return draw_noise(rng, num, self.noise_width(), self.truncated_noise_width())

    def batch_conditioning(self, batch) -> dict:
        raise NotImplementedError

    def forward(self, generator, conditioning, noise, training=True):
        raise NotImplementedError

    def sample_noise(self, batch):
        if "noise" in batch:
            return batch["noise"]
        return self.noise_rng.normal((self.batch_size_of(batch), self.z_dim))

    def shared_forward(self, conditioning, noise, key="fake"):
        """`forward(generator, conditioning, noise)` run once per training step and shared by the
        D and G losses (StackGAN-v2's and AttnGAN's trainers draw `fake_imgs` once and feed D
        `fake.detach()`): inside `train_step` the first call under `key` runs the generator
        (recorded for G's update) and later calls return the same tensors; elsewhere (building,
        a loss called directly) it just runs `forward`. The caller is responsible for asking
        under one key only with the same conditioning and noise; D's loss stops the gradient."""
        return self.step_cached(key, lambda: self.forward(self.generator, conditioning, noise))

    def step_cached(self, key, compute):
        """`compute()`, once per training step under `key`: inside `train_step` the first call runs
        it and later calls (D's loss, then G's) return the same tensors; elsewhere it just runs
        `compute`. For what both losses need and neither differentiates through the D update
        (`shared_forward`; a frozen text encoder's features of the batch's captions)."""
        passes = self._step_passes
        if passes is None:
            return compute()
        if key not in passes:
            passes[key] = compute()
        return passes[key]

    @property
    def _step_passes(self):
        return getattr(self._step_local, "passes", None)

    def discriminator_loss(self, batch, noise):
        raise NotImplementedError

    def generator_loss(self, batch, noise):
        raise NotImplementedError

    def _apply(self, loss_fn, variables, optimizer, batch, noise):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            loss, terms = loss_fn(batch, noise)
            scaled = optimizer.scale_loss(tf.cast(loss, tf.float32) / replicas)  # float16: loss scaling
        grads = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss, terms

    def train_step(self, batch):
        """D's update, then G's, from one generator pass (`shared_forward`).

        G's tape is open over both updates: the pass the D loss asks for first is recorded there,
        D's update is applied, and G's loss reuses that pass against the updated D, so the
        gradients are those of two separate passes with the same noise, the batch-norm moving
        statistics advance once per step, and the generator's forward costs one pass, not two.
        D's own tape sees the pass as a constant (its loss stops the gradient)."""
        noise = self.sample_noise(batch)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self._step_local.passes = {}
        try:
            with tf.GradientTape() as g_tape:
                d_loss, d_terms = self._apply(self.discriminator_loss, self.discriminator_variables(),
                                              self.d_optimizer, batch, noise)
                g_loss, g_terms = self.generator_loss(batch, noise)
                scaled = self.g_optimizer.scale_loss(tf.cast(g_loss, tf.float32) / replicas)
        finally:
            self._step_local.passes = None
        g_variables = self.generator_variables()
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(scaled, g_variables), g_variables))
        self.update_ema()
        values = {"d_loss": d_loss, "g_loss": g_loss, **d_terms, **g_terms}
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def update_ema(self):
        if self.ema_decay <= 0:
            return
        # Warm-up (as tf-models' EMA): early on the average would be mostly the random init,
        # which makes the samples of short runs useless.
        step = keras.ops.cast(self.g_optimizer.iterations, "float32")
        d = keras.ops.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))
        for ema, var in zip(self.ema_weights, self.generator.trainable_variables):
            ema.assign(d * ema + (1.0 - d) * var)

    # -- generation ------------------------------------------------------------------------------
    @property
    def ema_generator(self):
        """A second generator instance that `sync_ema` fills with the EMA weights."""
        if self.ema_decay <= 0:
            return self.generator
        if self._ema_generator is None:
            # Not tracked by the trainer: the EMA values live in `ema_weights` (checkpointed);
            # this instance is a view filled by `sync_ema`.
            # float32 whatever the training precision: samples, evaluation and export use it.
            with training_precision("none"):
                object.__setattr__(self, "_ema_generator",
                                   type(self.generator).from_config(float32_copy_config(self.generator.get_config())))
        return self._ema_generator

    def sync_ema(self):
        """Copies the EMA weights (and the live BN statistics) into `ema_generator` (eagerly; an
        eager `generate` does it itself); returns the EMA generator."""
        g = self.ema_generator
        if g is self.generator:
            return g
        if not g.built:
            if self._example is None:
                raise RuntimeError("build the trainer (build_from_batch) before sync_ema")
            with training_precision("none"):  # its lazily built layers too
                self.forward(g, *self._example, training=False)
        g.set_weights(self.generator.get_weights())
        for target, ema in zip(g.trainable_variables, self.ema_weights):
            target.assign(ema.value)
        object.__setattr__(self, "_ema_synced_at", self._generator_step())
        return g

    def _generator_step(self):
        optimizer = getattr(self, "g_optimizer", None)
        return None if optimizer is None else int(optimizer.iterations.numpy())

    def generation_models(self, use_ema=True) -> list:
        """The Keras models `generate` runs (what an export must track)."""
        return [self.ema_generator if use_ema else self.generator]

    def generate(self, conditioning, noise, all_scales=False, use_ema=True):
        """Images in [-1, 1] from the EMA generator, traceable.

        Args:
            conditioning: the family's text conditioning (its conditioner's `encode` output).
            noise: [B, noise_width()].
            all_scales: return the images of every scale, smallest first, instead of the last.
            use_ema: False: the live generator.
        """
        images, _ = self.forward(self.generator_for(use_ema), conditioning, tf.convert_to_tensor(noise, tf.float32),
                                 training=False)
        return list(images) if all_scales else images[-1]

    def generator_for(self, use_ema=True):
        """The EMA generator or the live one. Run eagerly after the generator has taken steps
        since the last `sync_ema`, it syncs first, so samples never lag training; a traced export
        syncs once before tracing, and nothing re-syncs over weights changed since (int8
        refinement)."""
        if not use_ema:
            return self.generator
        if tf.executing_eagerly() and (self._ema_synced_at is None or self._ema_synced_at != self._generator_step()):
            self.sync_ema()
        return self.ema_generator

    def call(self, inputs, training=False):
        """Generation with the live generator: inputs as the generator takes them."""
        return self.generator(inputs, training=training)

    def get_config(self):
        return {"z_dim": self.z_dim, "ema_decay": self.ema_decay, "seed": self.seed,
                "weights_init": self.weights_init}
