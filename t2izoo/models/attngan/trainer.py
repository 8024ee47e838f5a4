"""AttnGAN trainer: multi-scale joint conditional/unconditional GAN + DAMSM loss + CA KL
(t2izoo/trainers/damsm_gan.py, shared with SD-GAN)."""

from t2izoo.trainers.damsm_gan import DamsmGanTrainer, averaged_jcu_discriminator_loss

# Upstream's `discriminator_loss` (code/miscc/losses.py), by its family's name.
attngan_discriminator_loss = averaged_jcu_discriminator_loss


class AttnGanTrainer(DamsmGanTrainer):
    """AttnGAN's alternating updates, exactly the shared `DamsmGanTrainer` (see there for the
    losses, distribution and args).

    Reference: Xu et al., AttnGAN, CVPR 2018, Eq. 3-6 and 14; taoxugit/AttnGAN code/trainer.py
    `condGANTrainer.train`, code/miscc/losses.py `discriminator_loss` / `generator_loss`.
    """
