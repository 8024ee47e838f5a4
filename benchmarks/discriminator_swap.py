"""Does a trained GAN-INT-CLS discriminator notice a caption with one attribute changed?

    python benchmarks/discriminator_swap.py --model_dir=runs/gan_int_cls_shapes [--num_images=500]

For one-object `shapes` test scenes, D scores the real image with its true caption and with the
same caption with one attribute (colour, shape, size or position) changed
(`shapes.swapped_caption_pair`). Prints, per attribute, how often the true caption scores higher
(50 %: D is blind to it) and the mean logits. D runs in training mode, as it does when it teaches
G, with true and swapped captions mixed half and half in every batch so that batch statistics
cannot tell them apart.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from t2izoo.data.datasets import load_dataset  # noqa: E402
from t2izoo.data.shapes import ATTR_PRESENT, ATTRIBUTE_NAMES, swapped_caption_pair  # noqa: E402
from t2izoo.generate import Text2Image  # noqa: E402
from t2izoo.models.gan_int_cls.config import GanIntClsConfig  # noqa: E402


def discriminator_swap_accuracy(t2i, num_images: int = 500, seed: int = 0) -> dict:
    config, trainer = t2i.config, t2i.trainer
    if config.dataset != "shapes":
        raise SystemExit(f"Error: {config.dataset} has no attributes to swap; use a shapes run")
    test = load_dataset(config, "test")
    one = np.flatnonzero(np.asarray(test.attributes)[:, 1, ATTR_PRESENT] == 0)[:num_images]
    one = one[: len(one) // 2 * 2]
    size = config.image_size
    images = tf.constant(test.load_images(one, (size,))[size].astype(np.float32) / 127.5 - 1.0)
    half = len(one) // 2
    results = {}
    for attribute in ATTRIBUTE_NAMES:
        rng = np.random.default_rng(seed)
        pairs = [swapped_caption_pair(test.attributes[i, 0], attribute, rng) for i in one]
        true, swapped = (t2i.conditioner.conditioning([p[k] for p in pairs])["embedding"] for k in (0, 1))
        logits = []
        for first, second in ((true, swapped), (swapped, true)):
            mixed = tf.concat([first[:half], second[half:]], 0)
            logits.append(np.ravel(trainer.discriminator((images, mixed), training=True)))
        l_true = np.concatenate([logits[0][:half], logits[1][half:]])
        l_swap = np.concatenate([logits[1][:half], logits[0][half:]])
        results[attribute] = {"accuracy": float(np.mean(l_true > l_swap)), "logit_true": float(l_true.mean()),
                              "logit_swapped": float(l_swap.mean())}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--num_images", type=int, default=500)
    args = parser.parse_args()
    t2i = Text2Image.load(args.model_dir)
    if not isinstance(t2i.config, GanIntClsConfig):
        raise SystemExit("Error: this diagnostic reads a GAN-INT-CLS run's matching-aware discriminator")
    step = t2i.recipe.step(t2i.trainer)
    print(f"{args.model_dir} (step {step}): D's preference for the true caption over a one-attribute swap")
    for attribute, r in discriminator_swap_accuracy(t2i, args.num_images).items():
        print(f"  {attribute:9s} {100 * r['accuracy']:5.1f} %   mean logit true {r['logit_true']:7.2f}, "
              f"swapped {r['logit_swapped']:7.2f}")


if __name__ == "__main__":
    main()
