"""Attribute-swap accuracy: does a joint image-text embedding notice a changed attribute?

R-precision on `shapes` ranks an image's caption against captions of other classes, which a
model can win on colour alone. This test is sharper: for each one-object test scene, the true
caption and the same caption with one attribute (colour, shape, size or position) swapped; the
score is how often the image is closer (cosine) to the true one. 50 % is blind to that
attribute. A GAN trained against the embedding (AttnGAN's DAMSM loss, GAN-INT-CLS's frozen
char-CNN-RNN) gets no signal for an attribute the embedding is blind to.
"""

from __future__ import annotations

import numpy as np

from t2izoo.data.shapes import ATTR_PRESENT, ATTRIBUTE_NAMES, binding_swapped_caption_pair, has_two_colors, swapped_caption_pair


def swap_accuracy(image_vectors, true_text_vectors, swapped_text_vectors, cosine: bool = True) -> float:
    """Fraction of rows where s(image, true text) > s(image, swapped text); ties count half.

    s is the cosine (DAMSM) or, with `cosine=False`, the inner product (DS-SJE's compatibility).
    """
    image, true, swapped = (np.asarray(x, np.float64) for x in (image_vectors, true_text_vectors,
                                                                    swapped_text_vectors))
    if not (image.ndim == 2 and image.shape == true.shape == swapped.shape):
        raise ValueError(f"expected three [N, D] arrays of one shape, got {image.shape}, {true.shape}, "
                         f"{swapped.shape}")

    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12) if cosine else x

    image = unit(image)
    margin = (image * unit(true)).sum(1) - (image * unit(swapped)).sum(1)
    return float(np.mean(margin > 1e-9) + 0.5 * np.mean(np.abs(margin) <= 1e-9))


def shapes_swap_accuracy(encode_images, encode_captions, image_set, image_size: int, num_images: int = 500,
                         seed: int = 0, attributes=ATTRIBUTE_NAMES, cosine: bool = True) -> dict:
    """{attribute: swap accuracy} over the first `num_images` one-object scenes of a `shapes` split.

    Args:
        encode_images: float images [N, S, S, 3] in [-1, 1] -> vectors [N, D].
        encode_captions: list of N strings -> vectors [N, D] in the same space.
        image_set: a `ShapesImageSet`.
        cosine: compare cosines (else inner products).
    """
    single = np.flatnonzero(image_set.attributes[:, 1, ATTR_PRESENT] == 0)[:num_images]
    if not len(single):
        raise ValueError("the split has no one-object scenes")
    images = image_set.load_images(single, (image_size,))[image_size].astype(np.float32) / 127.5 - 1.0
    image_vectors = np.asarray(encode_images(images))
    rng = np.random.default_rng(seed)
    out = {}
    for attribute in attributes:
        pairs = [swapped_caption_pair(image_set.attributes[i, 0], attribute, rng) for i in single]
        out[attribute] = swap_accuracy(image_vectors, encode_captions([p[0] for p in pairs]),
                                       encode_captions([p[1] for p in pairs]), cosine)
    return out


def shapes_binding_accuracy(encode_images, encode_captions, image_set, image_size: int, num_images: int = 500,
                            seed: int = 0, cosine: bool = True) -> float:
    """Swap accuracy on two-object scenes of two colours against the caption whose two colour
    words are exchanged (`binding_swapped_caption_pair`): 50 % = the embedding knows which
    colours are there but not which object has which. Arguments as in `shapes_swap_accuracy`."""
    attrs = image_set.attributes
    two = np.array([i for i, objects in enumerate(attrs) if has_two_colors(objects)][:num_images], np.int64)
    if not len(two):
        raise ValueError("the split has no two-object scenes of two colours")
    images = image_set.load_images(two, (image_size,))[image_size].astype(np.float32) / 127.5 - 1.0
    rng = np.random.default_rng(seed)
    pairs = [binding_swapped_caption_pair(attrs[i], rng) for i in two]
    return swap_accuracy(np.asarray(encode_images(images)), encode_captions([p[0] for p in pairs]),
                         encode_captions([p[1] for p in pairs]), cosine)
