"""Captioned image grids (PNG) for samples, previews and reports."""

from __future__ import annotations

import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from t2izoo.utils.files import atomic_path
from t2izoo.utils.pixels import to_uint8


def captioned_grid(images, captions, cols: int, min_cell: int = 96) -> np.ndarray:
    """A grid of `images` with captions; returns uint8 [H, W, 3].

    `captions` has one entry per row (rows of `cols` samples of one caption) or one per image
    (each image captioned under itself). Small images are upscaled (nearest) to `min_cell`.
    """
    images = to_uint8(np.asarray(images))
    n = len(images)
    rows = -(-n // cols)
    per_image = len(captions) == n and not (len(captions) == rows and cols > 1)
    size = images.shape[1]
    scale = max(1, -(-min_cell // size))
    cell = size * scale
    font = ImageFont.load_default()
    chars_per_line = max(12, (cell if per_image else cell * cols) // 6)
    wrapped = [textwrap.wrap(c, chars_per_line)[:4] for c in captions]
    text_h = 11 * max((len(w) for w in wrapped), default=1) + 4
    pad = 2
    width = cols * (cell + pad) + pad
    row_h = cell + pad + text_h
    canvas = Image.new("RGB", (width, rows * row_h + pad), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for k in range(n):
        r, c = divmod(k, cols)
        tile = Image.fromarray(images[k]).resize((cell, cell), Image.NEAREST)
        x, y = pad + c * (cell + pad), pad + r * row_h
        canvas.paste(tile, (x, y))
        if per_image:
            draw.multiline_text((x, y + cell + 2), "\n".join(wrapped[k]), fill=(0, 0, 0), font=font, spacing=1)
    if not per_image:
        for r, lines in enumerate(wrapped):
            draw.multiline_text((pad, pad + r * row_h + cell + 2), "\n".join(lines), fill=(0, 0, 0),
                                font=font, spacing=1)
    return np.asarray(canvas)


def save_captioned_grid(images, captions, cols: int, path: str) -> np.ndarray:
    grid = captioned_grid(images, captions, cols)
    with atomic_path(path, ".png") as tmp:
        Image.fromarray(grid).save(tmp)
    return grid
