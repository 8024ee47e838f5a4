"""Side-by-side grid of several runs on the same caption pairs: two wordings of each test scene,
the same noise vectors for both wordings and for every run (SD-GAN's consistency, by eye).

    python benchmarks/caption_pair_grid.py --model_dirs=runs/attngan_shapes,runs/sdgan_shapes \
        --out=pairs.png [--scenes=4 --cols=6 --split=test] [--step=200: each run's ckpt-200]

Rows: for each scene, for each run, caption 1 then caption 2 of the scene (label "[run] caption");
column k uses noise vector k in every row. A generator consistent across wordings draws the
same picture in the two rows of a run, column by column.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from t2izoo.data.datasets import load_dataset  # noqa: E402
from t2izoo.generate import Text2Image  # noqa: E402
from t2izoo.utils.grid import save_captioned_grid  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_dirs", required=True, help="comma list of run directories")
    parser.add_argument("--out", required=True)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--cols", type=int, default=6)
    parser.add_argument("--split", default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first_scene", type=int, default=0)
    parser.add_argument("--step", type=int, default=0, help="each run's checkpoint of this step (0: the latest)")
    args = parser.parse_args()
    dirs = args.model_dirs.split(",")
    runs = [Text2Image.load(d, os.path.join(d, "checkpoints", f"ckpt-{args.step}") if args.step else None)
            for d in dirs]
    image_set = load_dataset(runs[0].config, args.split)
    scenes = range(args.first_scene, args.first_scene + args.scenes)
    images, labels = [], []
    for i in scenes:
        pair = list(image_set.captions[i][:2])
        for t2i in runs:
            name = os.path.basename(os.path.normpath(t2i.model_dir)).replace("_shapes", "")
            for caption in pair:
                # the same seed for every row: noise vector k in column k everywhere
                images.append(t2i([caption] * args.cols, 1, seed=args.seed))
                labels.append(f"[{name}] {caption}")
    save_captioned_grid(np.concatenate(images), labels, args.cols, args.out)
    print(f"wrote {args.out}: {len(labels)} rows x {args.cols}")


if __name__ == "__main__":
    main()
