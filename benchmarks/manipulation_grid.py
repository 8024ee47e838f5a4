"""One grid of the same `shapes` sources and edits for several manipulation runs: each row is a
source, then each run's result, captioned with the new caption (and the edit it asks for).

    python benchmarks/manipulation_grid.py --model_dirs=runs/style_encoder_shapes,runs/sisgan_shapes \
        --num=12 --out=manipulation_grid.png
"""

import numpy as np
from absl import app, flags

from t2izoo.data.shapes import COLORS, SHAPES, SIZES, ShapesImageSet
from t2izoo.evaluate import manipulation_plan
from t2izoo.manipulate import ImageManipulator
from t2izoo.utils.grid import save_captioned_grid

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dirs", "", "Comma list of manipulation runs.")
flags.DEFINE_string("split", "test", "Split of the sources.")
flags.DEFINE_integer("num", 12, "Sources (edits colour, shape, size in turn).")
flags.DEFINE_integer("seed", 0, "Edit seed.")
flags.DEFINE_string("out", "manipulation_grid.png", "Output PNG.")


def main(argv):
    del argv
    dirs = [d for d in FLAGS.model_dirs.split(",") if d]
    image_set = ShapesImageSet(FLAGS.split)
    indices, captions, edits = manipulation_plan(image_set, 3 * FLAGS.num * 7, FLAGS.seed)
    pick = np.arange(0, len(indices), 7)[:FLAGS.num]  # spread over scenes, attributes in turn
    sources = image_set.load_images(indices[pick], (64,))[64]
    columns = [sources] + [ImageManipulator.load(d)(sources, [captions[i] for i in pick]) for d in dirs]
    images, labels = [], []
    names = {"color": COLORS, "shape": SHAPES, "size": SIZES}
    for row, i in enumerate(pick):
        e = edits[i]
        what = f"{e.attribute}: {names[e.attribute][e.old]} -> {names[e.attribute][e.new]}"
        for c, column in enumerate(columns):
            images.append(column[row])
            labels.append(f"source; {what}" if c == 0 else f"{dirs[c - 1].rstrip('/').split('/')[-1]}: {captions[i]}")
    save_captioned_grid(np.stack(images), labels, len(columns), FLAGS.out)
    print(f"wrote {FLAGS.out}: columns source, {', '.join(dirs)}")


if __name__ == "__main__":
    app.run(main)
