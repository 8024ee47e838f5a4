"""The manipulation table on `shapes`: edit accuracy (colour, shape, size), preservation and
reconstruction error of trained manipulation runs beside two references computed here: the
identity (the source returned unchanged) and the oracle (the ground-truth render of the edited
scene, which bounds what the shapes evaluator can read).

    python benchmarks/manipulation_table.py --model_dirs=runs/style_encoder_shapes,runs/sisgan_shapes \
        --num_samples=3000 --splits=test,novel
"""

from __future__ import annotations

import numpy as np
from absl import app, flags

from t2izoo import evaluate as ev
from t2izoo.data.shapes import ShapesImageSet, edited_geometry, render_scene
from t2izoo.metrics import shapes_evaluator as se
from t2izoo.metrics.manipulation import edit_scores

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dirs", "", "Comma list of manipulation runs.")
flags.DEFINE_integer("num_samples", 3000, "Edits per split (3 per scene: colour, shape, size).")
flags.DEFINE_string("splits", "test,novel", "Splits.")
flags.DEFINE_integer("seed", 0, "Edit seed.")

COLUMNS = ("edit_acc_color", "edit_acc_shape", "edit_acc_size", "preservation", "edit_and_preserved",
           "recon_l1", "recon_l2")
PARTS = ("kept_layout", "kept_color", "kept_shape", "kept_size")  # what preservation is made of


def references(split, evaluator):
    image_set = ShapesImageSet(split)
    indices, _, edits = ev.manipulation_plan(image_set, FLAGS.num_samples, FLAGS.seed)
    sources = image_set.load_images(indices, (64,))[64]
    scenes = image_set.scenes
    oracle = np.stack([render_scene(e.objects, edited_geometry(scenes.geometry[i], scenes.attributes[i], e.objects),
                                    int(scenes.background[i]), 64) for i, e in zip(indices, edits)])
    rows = {}
    for name, images in (("identity (source unchanged)", sources), ("oracle (render of the edited scene)", oracle)):
        scores = edit_scores(se.predict(evaluator, images, value_range=(0, 255)), edits)
        rows[name] = {**scores, "recon_l1": 0.0 if name.startswith("identity") else float("nan"),
                      "recon_l2": 0.0 if name.startswith("identity") else float("nan")}
    return rows


def main(argv):
    del argv
    evaluator = se.load_or_train_shapes_evaluator(verbose=1)
    print("| model | split | steps | colour edit | shape edit | size edit | preservation | edit and preserved | "
          "recon L1 | recon L2 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    parts = []
    for split in FLAGS.splits.split(","):
        rows = references(split, evaluator)
        for model_dir in [d for d in FLAGS.model_dirs.split(",") if d]:
            r = ev.evaluate_run(model_dir, ["manip_shapes", "manip_recon"], FLAGS.num_samples, split, FLAGS.seed,
                                verbose=False, shapes_evaluator=evaluator)
            rows[f"{model_dir} @ {r['step']}"] = r
        for name, r in rows.items():
            cells = [f"{100 * r[c]:.1f}" if c.startswith(("edit", "pres")) else
                     ("" if np.isnan(r[c]) else f"{r[c]:.4f}") for c in COLUMNS]
            print(f"| {name.split(' @ ')[0]} | {split} | {r.get('step', '')} | " + " | ".join(cells) + " |")
            parts.append(f"| {name.split(' @ ')[0]} | {split} | " + " | ".join(f"{100 * r[c]:.1f}" for c in PARTS) + " |")
    print("\nPreservation by part (% of edits where it holds: layout = every object's cell occupied and every "
          "empty cell empty; colour/shape/size = that attribute of every object, the edited one left out):\n")
    print("| model | split | layout | colour | shape | size |\n|---|---|---:|---:|---:|---:|")
    print("\n".join(parts))


if __name__ == "__main__":
    app.run(main)
