"""Prints shapes rendering speed and full tf.data pipeline throughput (images/s)."""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


from t2izoo.data import pipeline, shapes, text  # noqa: E402


def main():
    config = shapes.ShapesConfig(num_train=4000, num_test=100, num_novel=100, seed=123)
    t = time.time()
    scenes = shapes.sample_scenes(config, "train")
    print(f"scene sampling + 10 captions: {len(scenes) / (time.time() - t):,.0f} scenes/s")
    for size in (64, 128, 256):
        n = {64: 4000, 128: 1000, 256: 300}[size]
        t = time.time()
        scenes.render_all(size, range(n))
        print(f"rendering at {size} px (anti-aliased, 1 core): {n / (time.time() - t):,.0f} images/s")
    image_set = shapes.ShapesImageSet("train", config)
    image_set.images(64)  # cached to disk after the first build
    vocab = text.Vocabulary.build(c for caps in image_set.captions for c in caps)
    options = pipeline.PipelineOptions(image_sizes=(64,), batch_size=64, with_chars=True)
    ds = pipeline.make_dataset(image_set, vocab, options)
    it = iter(ds)
    next(it)
    t, steps = time.time(), 200
    for _ in range(steps):
        next(it)
    rate = steps * 64 / (time.time() - t)
    print(f"full pipeline from the render cache (64 px, tokens, chars, mismatched captions): {rate:,.0f} images/s")


if __name__ == "__main__":
    main()
