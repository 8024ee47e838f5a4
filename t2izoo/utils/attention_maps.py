"""AttnGAN-style attention figures: for each attention stage, the stage's image and the maps of
its most attended words laid over it (as in Xu et al., CVPR 2018, Fig. 2 and 5)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from t2izoo.utils.files import atomic_path
from t2izoo.utils.grid import captioned_grid
from t2izoo.utils.pixels import to_uint8

_TINT = np.array([255.0, 40.0, 40.0])


def caption_strip(text: str, width: int, height: int = 16) -> np.ndarray:
    """A white strip `width` px wide with `text` on it."""
    strip = Image.new("RGB", (width, height), (255, 255, 255))
    ImageDraw.Draw(strip).text((3, 2), text, fill=(0, 0, 0), font=ImageFont.load_default())
    return np.asarray(strip)


def top_words(attention, length: int, k: int):
    """Indices of the `k` real words with the most attention mass over the map [h, w, T]."""
    mass = attention[..., :length].reshape(-1, length).sum(0)
    return list(np.argsort(-mass, kind="stable")[:k])


def overlay(image_uint8, attention_map, size: int):
    """The image (resized to `size`) dimmed where the word is not attended, tinted where it is."""
    img = np.asarray(Image.fromarray(image_uint8).resize((size, size), Image.NEAREST), np.float32)
    m = np.asarray(Image.fromarray(attention_map.astype(np.float32)).resize((size, size), Image.BILINEAR))
    m = (m - m.min()) / max(float(m.max() - m.min()), 1e-8)
    out = img * (0.25 + 0.75 * m[..., None]) * 0.7 + 0.3 * _TINT * m[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def attention_figure(stage_images, stage_maps, words, length: int, top_k: int = 5, cell: int = 96):
    """uint8 figure for one sample.

    Args:
        stage_images: images of every scale (float in [-1, 1] or uint8), smallest first.
        stage_maps: attention [h_i, w_i, T] of every attention stage (one fewer than images).
        words: the caption's words (strings), `length` of them real.
        top_k: words shown per stage.

    Row i shows the image that attention stage i produced (scale i + 1) and, for its top_k
    words, that image with the word's attention map (computed at scale i) laid over it.
    """
    cells, labels = [], []
    for i, attention in enumerate(stage_maps):
        image = to_uint8(stage_images[i + 1])
        cells.append(np.asarray(Image.fromarray(image).resize((cell, cell), Image.NEAREST)))
        labels.append(f"stage {i + 1}: {image.shape[0]} px")
        chosen = top_words(attention, length, top_k)
        for t in chosen:
            cells.append(overlay(image, attention[..., t], cell))
            mass = attention[..., t].mean()
            labels.append(f"{words[t]} ({mass:.2f})")
        for _ in range(top_k - len(chosen)):  # captions shorter than top_k
            cells.append(np.full((cell, cell, 3), 255, np.uint8))
            labels.append("")
    return captioned_grid(np.stack(cells), labels, cols=top_k + 1)


def save_attention_figures(path: str, captions, stage_images, stage_maps, tokens, lengths, vocab, top_k: int = 5):
    """One figure per caption stacked vertically, with the caption above each; returns `path`.

    Args:
        captions: N caption strings.
        stage_images: list over scales of [N, s, s, 3] arrays in [-1, 1].
        stage_maps: list over attention stages of [N, h, w, T] arrays.
        tokens, lengths: [N, T] word ids and [N] lengths the generator saw.
        vocab: `Vocabulary` to turn ids back into words.
    """
    figures = []
    for n, caption in enumerate(captions):
        words = [vocab.words[int(t)] for t in tokens[n]]
        fig = attention_figure([x[n] for x in stage_images], [m[n] for m in stage_maps], words,
                               int(lengths[n]), top_k)
        header = caption_strip(caption, fig.shape[1])
        figures += [header, fig]
    canvas = np.concatenate(figures, axis=0)
    with atomic_path(path, ".png") as tmp:
        Image.fromarray(canvas).save(tmp)
    return path
