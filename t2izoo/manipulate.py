"""Manipulate images with a new description, with a trained manipulation run (EMA weights).

    python -m t2izoo.manipulate --model_dir=runs/sisgan_shapes --image=in.png \
        --caption="a large blue circle in the center" --out=out.png
    python -m t2izoo.manipulate --model_dir=runs/sisgan_shapes --image_dir=photos/ \
        --caption="a small red star at the top" --out=edited/        # every image of a folder

An image of another size is resized (bilinear) to the model's side with a note; `--noresize`
refuses it instead. A file that is not an image, an empty caption or one whose every word is
outside the run's vocabulary stops with one line.
"""

from __future__ import annotations

if __name__ == "__main__":  # first, before TensorFlow is imported: keep its start-up logging quiet
    from t2izoo.utils import tf_logging

    tf_logging.quiet()

import os
import sys

import numpy as np
import tensorflow as tf
from absl import app, flags

from t2izoo import configs as config_lib
from t2izoo import registry
from t2izoo.data import text as text_lib
from t2izoo.data.pipeline import image_to_float
from t2izoo.errors import ConfigError, DataError
from t2izoo.generate import RestoredRun
from t2izoo.utils.cli import parse_flags, run_main, writing
from t2izoo.utils.pixels import to_uint8

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def load_image(path: str) -> np.ndarray:
    """uint8 [H, W, 3] of an image file; DataError (one line) for a missing or non-image file."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise DataError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{path}: not a readable image ({type(err).__name__})") from None


def fit_image(image: np.ndarray, size: int, resize: bool = True, where: str = "image") -> np.ndarray:
    """`image` as uint8 [size, size, 3]: resized (bilinear, with a note on stderr) when its size
    differs, or refused (DataError) when `resize` is False."""
    from PIL import Image

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise DataError(f"{where}: expected an RGB image [H, W, 3], got shape {image.shape}")
    if image.shape[:2] == (size, size):
        return image.astype(np.uint8)
    if not resize:
        raise DataError(f"{where}: {image.shape[1]}x{image.shape[0]} px, the model takes {size}x{size} "
                        "(pass --resize to resize it)")
    print(f"note: {where} is {image.shape[1]}x{image.shape[0]} px; resized to {size}x{size}", file=sys.stderr)
    return np.asarray(Image.fromarray(image.astype(np.uint8)).resize((size, size), Image.BILINEAR))


class ImageManipulator(RestoredRun):
    """A restored manipulation run: (images, new captions) -> edited images.

    Example:
        >>> m = ImageManipulator.load("runs/sisgan_shapes")
        >>> edited = m(images_uint8, ["a large blue circle in the center"] * len(images_uint8))
    """

    @classmethod
    def recipe_for(cls, model_dir: str):
        family = registry.family_of_run(model_dir)
        if not family.is_manipulation:
            raise ConfigError(f"{model_dir} is a {family.name} run (text to image), not a manipulation model; "
                              "use python -m t2izoo.generate")
        return family.make_recipe(), config_lib.load_config(family.config_class, model_dir)

    @property
    def image_size(self) -> int:
        return int(self.trainer.image_size)

    @property
    def step(self) -> int:
        return self.recipe.step(self.trainer)

    def check_captions(self, captions) -> list:
        """The captions as strings; DataError for an empty one or one with no known word."""
        checked = []
        for i, caption in enumerate(captions):
            where = f"caption {i}" if len(captions) > 1 else "caption"
            caption = text_lib.check_caption(caption, where=where)
            if self.vocab.oov_fraction(caption) == 1.0:
                raise DataError(f"{where}: every word of {caption!r} is outside the run's vocabulary "
                                f"({len(self.vocab.words) - 2} words); describe the image with known words")
            checked.append(caption)
        return checked

    def __call__(self, images, captions, resize: bool = True, batch_size: int = 64) -> np.ndarray:
        """uint8 [B, S, S, 3] edited images of uint8 images [B, H, W, 3] (or a list of them)."""
        if len(images) != len(captions):
            raise DataError(f"{len(images)} images for {len(captions)} captions")
        captions = self.check_captions(list(captions))
        size = self.image_size
        fitted = np.stack([fit_image(x, size, resize, where=f"image {i}") for i, x in enumerate(images)])
        out = []
        for start in range(0, len(fitted), batch_size):
            chunk = tf.constant(image_to_float(fitted[start:start + batch_size].astype(np.float32)))
            conditioning = self.conditioner.conditioning(captions[start:start + batch_size])
            out.append(to_uint8(np.asarray(self.trainer.manipulate(chunk, conditioning, use_ema=self.use_ema))))
        return np.concatenate(out)


FLAGS = flags.FLAGS


def _save(image: np.ndarray, path: str):
    from PIL import Image

    from t2izoo.utils.files import atomic_path

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path, os.path.splitext(path)[1] or ".png") as tmp:
        Image.fromarray(image).save(tmp, format="PNG")


def folder_images(image_dir: str) -> list:
    if not os.path.isdir(image_dir):
        raise DataError(f"--image_dir={image_dir}: no such folder")
    names = sorted(n for n in os.listdir(image_dir) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise DataError(f"--image_dir={image_dir}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
    return [os.path.join(image_dir, n) for n in names]


def main(argv):
    del argv

    def _run():
        if bool(FLAGS.image) == bool(FLAGS.image_dir):
            raise ConfigError("give exactly one of --image (one file) and --image_dir (a folder)")
        paths = [FLAGS.image] if FLAGS.image else folder_images(FLAGS.image_dir)
        images = [load_image(p) for p in paths]  # every input is checked before the model loads
        text_lib.check_caption(FLAGS.caption, where="--caption")
        manipulator = ImageManipulator.load(FLAGS.model_dir)
        edited = manipulator(images, [FLAGS.caption] * len(images), resize=FLAGS.resize)
        if FLAGS.image:
            with writing(FLAGS.out):
                _save(edited[0], FLAGS.out)
            print(f"wrote {FLAGS.out} ({edited.shape[1]} px)")
            return
        with writing(FLAGS.out):
            for path, image in zip(paths, edited):
                _save(image, os.path.join(FLAGS.out, os.path.splitext(os.path.basename(path))[0] + ".png"))
        print(f"wrote {len(edited)} images to {FLAGS.out}/ ({edited.shape[1]} px)")

    run_main(_run)


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "Run directory of a trained manipulation model.", required=True)
    flags.DEFINE_string("image", None, "One input image.")
    flags.DEFINE_string("image_dir", None, "A folder of input images (batch mode).")
    flags.DEFINE_string("caption", None, "The new description.", required=True)
    flags.DEFINE_string("out", "out.png", "Output PNG (--image) or folder (--image_dir).")
    flags.DEFINE_bool("resize", True, "Resize images of another size (--noresize: refuse them).")
    app.run(main, flags_parser=parse_flags)
