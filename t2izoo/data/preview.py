"""Writes a captioned preview grid of a dataset split.

    python -m t2izoo.data.preview --dataset=shapes --out=preview.png
"""

if __name__ == "__main__":  # first, before TensorFlow is imported: keep its start-up logging quiet
    from t2izoo.utils import tf_logging

    tf_logging.quiet()

import numpy as np
from absl import app, flags

from t2izoo.data.datasets import DATASETS, load_split
from t2izoo.utils.cli import parse_flags, run_main
from t2izoo.utils.grid import save_captioned_grid

FLAGS = flags.FLAGS
flags.DEFINE_enum("dataset", "shapes", list(DATASETS), "Dataset to preview.")
flags.DEFINE_string("data_dir", "", "Dataset root (real datasets).")
flags.DEFINE_string("split", "train", "Split to preview.")
flags.DEFINE_integer("num", 16, "Images in the grid.", lower_bound=1)
flags.DEFINE_integer("cols", 4, "Grid columns.", lower_bound=1)
flags.DEFINE_integer("image_size", 64, "Image side.", lower_bound=16)
flags.DEFINE_integer("seed", 0, "Which images are shown.")
flags.DEFINE_string("out", "preview.png", "Output PNG.")


def preview():
    ds = load_split(FLAGS.dataset, FLAGS.split, FLAGS.data_dir, FLAGS.image_size)
    rng = np.random.default_rng(FLAGS.seed)
    idx = np.sort(rng.choice(len(ds), size=min(FLAGS.num, len(ds)), replace=False))
    images = ds.load_images(idx, (FLAGS.image_size,))[FLAGS.image_size]
    captions = [ds.captions[i][0] for i in idx]
    save_captioned_grid(images, captions, FLAGS.cols, FLAGS.out)
    print(f"wrote {FLAGS.out}: {len(idx)} images of {ds.describe()}")


def main(argv):
    del argv
    run_main(preview)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
