"""Recipe mix-in for models conditioned on GAN-INT-CLS's frozen char-CNN-RNN embeddings.

StackGAN and StackGAN++ condition on the same pretrained, frozen char-CNN-RNN sentence
embedding as GAN-INT-CLS; this borrows GAN-INT-CLS's recipe methods rather than copying them.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from t2izoo.recipes import gan_int_cls
from t2izoo.trainers import run_loop


class FrozenCharCnnRnnMixin:
    """`prepare` (load the frozen encoder), `caption_embeddings` (cached per run) and
    `conditioning` (captions -> embeddings), as in `GanIntClsRecipe`; plus a per-scale sampler.

    Trainers must provide `encode_text(chars)` and `generate_all_scales(conditioning, noise)`.
    """

    prepare = gan_int_cls.GanIntClsRecipe.prepare
    caption_embeddings = gan_int_cls.GanIntClsRecipe.caption_embeddings
    conditioning = gan_int_cls.GanIntClsRecipe.conditioning

    def sampler(self, trainer, config, context, captions):
        """Grid with one row per (caption, scale): smaller scales upscaled (nearest) to the largest."""
        cols = run_loop.SAMPLE_COLS
        width = trainer.noise_width()
        noise = tf.constant(np.random.default_rng(config.seed + 1).normal(size=(len(captions) * cols, width)),
                            tf.float32)

        def sample():
            embedding = tf.repeat(self.conditioning(trainer, captions)["embedding"], cols, axis=0)
            scales = [np.asarray(x) for x in trainer.generate_all_scales({"embedding": embedding}, noise)]
            top = scales[-1].shape[1]
            rows, row_captions = [], []
            for i, caption in enumerate(captions):
                for x in scales:
                    block = x[i * cols: (i + 1) * cols]
                    factor = top // block.shape[1]
                    rows.append(block.repeat(factor, axis=1).repeat(factor, axis=2))
                    row_captions.append(f"[{x.shape[1]} px] {caption}")
            return np.concatenate(rows), row_captions

        return sample


def example_batch(config, context, image_sizes) -> dict:
    """A two-example batch with the keys the StackGAN trainers read."""
    dim = context["text_encoder"].embedding_dim
    batch = {"index": tf.range(2), "embedding": tf.zeros((2, dim)), "wrong_embedding": tf.zeros((2, dim))}
    for s in image_sizes:
        batch[f"image_{s}"] = tf.zeros((2, s, s, 3))
    return batch
