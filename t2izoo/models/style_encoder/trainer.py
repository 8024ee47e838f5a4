"""Style encoder trainer: S regresses a frozen, trained generator's samples back onto their noise."""

import keras
import tensorflow as tf

from t2izoo.losses.style import style_inversion_loss
from t2izoo.trainers.manipulation import ManipulationModel
from t2izoo.trainers.prebuilt import PrebuiltTrainer


class StyleEncoderTrainer(ManipulationModel, PrebuiltTrainer):
    """Trains S with L = ||z - S(G(z, phi(t)))||^2; manipulates with x -> G(S(x), phi(t')).

    The generator is the EMA generator of a restored text-to-image run, reached only through its
    trainer's `generate(conditioning, noise)` (so any noise-conditioned family can be inverted);
    it is not tracked here, so the checkpoint holds S, its optimizer and the noise RNG only and
    the GAN run stays the one copy of G.

    Args:
        encoder: `StyleEncoder` (S).
        gan: the restored GAN trainer (`GANTrainer`), frozen.
        image_size: the generator's output side.
        seed: noise seed.

    Reference: Reed et al. 2016, Sec. 4.4 and Eq. 6.
    """

    def __init__(self, encoder, gan, image_size=64, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        object.__setattr__(self, "gan", gan)  # not tracked: G's weights stay in the GAN run
        gan.trainable = False
        self.image_size = image_size
        self.seed = seed
        self.noise_rng = tf.random.Generator.from_seed(seed)

    def compile(self, s_optimizer, **kwargs):
        super().compile(**kwargs)
        self.s_optimizer = s_optimizer
        self.trackers = {"style_loss": keras.metrics.Mean(name="style_loss")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def checkpoint_optimizers(self):
        return [self.s_optimizer]

    def build_from_batch(self, batch):
        self.encoder(tf.zeros((1, self.image_size, self.image_size, 3)))
        self.gan.sync_ema()
        self.s_optimizer.build(self.encoder.trainable_variables)
        self.built = True

    def noise_width(self) -> int:
        return self.gan.noise_width()

    def sample_noise(self, batch):
        """z ~ N(0, I) for every example of the batch, from this replica's stream."""
        return self.noise_rng.normal((tf.shape(batch["index"])[0], self.noise_width()))

    def style_loss(self, batch, training=True):
        """(loss, z) on a batch: z ~ N(0, I) through the frozen EMA generator and back through S."""
        noise = self.sample_noise(batch)
        fake = tf.stop_gradient(self.gan.generate(self.gan.batch_conditioning(batch), noise))
        return style_inversion_loss(noise, self.encoder(fake, training=training)), noise

    def train_step(self, batch):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            loss, _ = self.style_loss(batch)
            scaled = loss / replicas
        variables = self.encoder.trainable_variables
        self.s_optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        self.trackers["style_loss"].update_state(loss)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def manipulate(self, images, conditioning, use_ema=True):
        """s <- S(x), x_hat <- G(s, phi(t')) (Sec. 4.4); images in [-1, 1]."""
        style = self.encoder(tf.convert_to_tensor(images, tf.float32), training=False)
        return self.gan.generate(conditioning, style, use_ema=use_ema)

    def manipulation_models(self):
        return [self.encoder] + list(self.gan.generation_models(use_ema=True))

    def call(self, images, training=False):
        return self.encoder(images, training=training)

    def get_config(self):
        return {"image_size": self.image_size, "seed": self.seed}
