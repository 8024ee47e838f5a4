"""The optimizers of a GAN recipe, from the `GanRunConfig` fields every family shares."""

import keras
import tensorflow as tf

from t2izoo.trainers.precision import loss_scaled


def adam(learning_rate, beta_1, beta_2, steps_per_epoch: int, lr_decay_epochs: int = 0):
    """Adam whose rate halves every `lr_decay_epochs` epochs (icml2016's and StackGAN's schedule;
    0: constant, as StackGAN++ and AttnGAN)."""
    if lr_decay_epochs > 0:
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=lr_decay_epochs * steps_per_epoch, decay_rate=0.5, staircase=True)
    return keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2)


def gan_optimizers(config, steps_per_epoch: int) -> dict:
    """{"g_optimizer", "d_optimizer"} for `GANTrainer.compile`: each side's rate and betas
    (loss-scaled under `mixed_precision=float16`)."""
    return {"g_optimizer": loss_scaled(adam(config.g_learning_rate, config.g_beta_1, config.g_beta_2,
                                            steps_per_epoch, config.lr_decay_epochs), config.mixed_precision),
            "d_optimizer": loss_scaled(adam(config.d_learning_rate, config.d_beta_1, config.d_beta_2,
                                            steps_per_epoch, config.lr_decay_epochs), config.mixed_precision)}


def jit_compile(config) -> bool:
    """`config.jit_compile`, except under a multi-replica strategy (XLA cannot address
    MirroredStrategy's per-device variables: "Trying to access resource ... located in device
    CPU:1 from device CPU:0"). Call inside the strategy's scope."""
    return bool(config.jit_compile) and tf.distribute.get_strategy().num_replicas_in_sync == 1


def sync_batch_norm(config) -> bool:
    """Synchronised batch norm: asked for by the config and more than one replica."""
    return bool(config.sync_batch_norm) and tf.distribute.get_strategy().num_replicas_in_sync > 1
