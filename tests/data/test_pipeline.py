import numpy as np
import pytest
import tensorflow as tf

from t2izoo.data import pipeline, shapes, text
from t2izoo.errors import DataError
from t2izoo.testing import gan_checks

CFG = shapes.ShapesConfig(num_train=200, num_test=40, num_novel=20, seed=2)


@pytest.fixture(scope="module")
def train_set():
    return shapes.ShapesImageSet("train", CFG, cache=False)


@pytest.fixture(scope="module")
def vocab(train_set):
    return text.Vocabulary.build(c for caps in train_set.captions for c in caps)


def test_batches_shapes_dtypes_ranges(train_set, vocab):
    opts = pipeline.PipelineOptions(image_sizes=(16, 32), batch_size=8, max_words=12, with_chars=True, seed=1)
    batch = next(iter(pipeline.make_dataset(train_set, vocab, opts)))
    assert batch["image_16"].shape == (8, 16, 16, 3) and batch["image_32"].dtype == tf.float32
    for s in (16, 32):
        assert -1.0 <= float(tf.reduce_min(batch[f"image_{s}"])) and float(tf.reduce_max(batch[f"image_{s}"])) <= 1.0
    assert batch["tokens"].shape == (8, 12) and batch["tokens"].dtype == tf.int32
    assert batch["chars"].shape == (8, 201)
    assert batch["attributes"].shape == (8, 2, 5)
    lengths = batch["lengths"].numpy()
    assert ((batch["tokens"].numpy() > 0).sum(1) == lengths).all() and (lengths <= 12).all()
    # the caption belongs to its image
    idx = batch["index"].numpy()
    for k in range(8):
        words = set(vocab.decode(batch["tokens"][k].numpy()).split())
        assert any(words <= set(text.split_words(c)) for c in train_set.captions[idx[k]])


def test_mismatched_caption_from_another_image_and_class(train_set, vocab):
    opts = pipeline.PipelineOptions(image_sizes=(16,), batch_size=32, seed=3)
    assembler = pipeline.BatchAssembler(train_set, vocab, opts)
    for step in range(20):
        b = assembler(step)
        assert (b["wrong_class_ids"] != b["class_ids"]).all()


def test_wrong_images_are_the_mismatched_captions_images_and_change_nothing_else(train_set, vocab):
    opts = pipeline.PipelineOptions(image_sizes=(16,), batch_size=16, seed=3)
    plain = pipeline.BatchAssembler(train_set, vocab, opts)
    with_images = pipeline.BatchAssembler(train_set, vocab, pipeline.PipelineOptions(
        image_sizes=(16,), batch_size=16, seed=3, wrong_images=True))
    for step in range(3):
        a, b = plain(step), with_images(step)
        assert set(b) - set(a) == {"wrong_image_16", "wrong_index"}
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
        wrong = b["wrong_index"]
        np.testing.assert_array_equal(train_set.class_ids[wrong], b["wrong_class_ids"])
        assert (b["wrong_class_ids"] != b["class_ids"]).all()
        np.testing.assert_array_equal(b["wrong_image_16"], train_set.load_images(wrong, (16,))[16])
        # the wrong caption is one of the wrong image's captions
        for k in range(16):
            words = set(vocab.decode(b["wrong_tokens"][k]).split())
            assert any(words <= set(text.split_words(c)) for c in train_set.captions[wrong[k]])
    batch = next(iter(pipeline.make_dataset(train_set, vocab, with_images.options)))
    assert batch["wrong_image_16"].dtype == tf.float32 and float(tf.reduce_max(batch["wrong_image_16"])) <= 1.0


def test_determinism_and_resume(train_set, vocab):
    opts = pipeline.PipelineOptions(image_sizes=(16,), batch_size=8, seed=4)
    full = [b for b in pipeline.make_dataset(train_set, vocab, opts).take(6)]
    resumed = [b for b in pipeline.make_dataset(train_set, vocab, opts, start_step=4).take(2)]
    for a, b in zip(full[4:], resumed):
        for key in a:
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    other = next(iter(pipeline.make_dataset(train_set, vocab, pipeline.PipelineOptions(
        image_sizes=(16,), batch_size=8, seed=5))))
    assert not np.array_equal(other["index"].numpy(), full[0]["index"].numpy())


def test_epoch_covers_every_image_once(train_set, vocab):
    opts = pipeline.PipelineOptions(image_sizes=(16,), batch_size=20, seed=0)
    assembler = pipeline.BatchAssembler(train_set, vocab, opts)
    seen = np.concatenate([assembler(s)["index"] for s in range(assembler.num_steps_per_epoch())])
    assert sorted(seen) == list(range(len(train_set)))


def test_eval_stream_is_ordered_single_pass(vocab):
    test_set = shapes.ShapesImageSet("test", CFG, cache=False)
    opts = pipeline.PipelineOptions(image_sizes=(16,), batch_size=16, training=False)
    batches = list(pipeline.make_dataset(test_set, vocab, opts))
    assert np.concatenate([b["index"].numpy() for b in batches]).tolist() == list(range(40))


def test_embeddings_are_means_of_the_images_captions(train_set, vocab, rng):
    table = rng.normal(size=(len(train_set), 10, 4)).astype("float32")
    opts = pipeline.PipelineOptions(image_sizes=(16,), batch_size=8, num_embeddings=4, seed=1)
    b = pipeline.BatchAssembler(train_set, vocab, opts, caption_embeddings=table)(0)
    for k, i in enumerate(b["index"]):
        # a mean of 4 of the image's 10 embeddings lies inside their bounding box
        assert (b["embedding"][k] >= table[i].min(0) - 1e-6).all() and (b["embedding"][k] <= table[i].max(0) + 1e-6).all()
    with pytest.raises(DataError, match="do not match"):
        pipeline.BatchAssembler(train_set, vocab, opts, caption_embeddings=table[:5])


def test_split_over_replicas(train_set, vocab):
    strategy = gan_checks.mirrored_strategy()
    opts = pipeline.PipelineOptions(image_sizes=(16,), batch_size=8, seed=1)
    ds = strategy.experimental_distribute_dataset(pipeline.make_dataset(train_set, vocab, opts))
    batch = next(iter(ds))
    parts = strategy.experimental_local_results(batch["index"])
    assert [p.shape[0] for p in parts] == [4, 4]
    whole = next(iter(pipeline.make_dataset(train_set, vocab, opts)))["index"].numpy()
    np.testing.assert_array_equal(np.concatenate([p.numpy() for p in parts]), whole)


def test_hard_negatives_replace_that_fraction_of_wrong_embeddings_and_nothing_else(train_set, vocab):
    n, dim = len(train_set), 6
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(n, 10, dim)).astype("float32")
    hard = 100.0 + rng.normal(size=(n, 4, dim)).astype("float32")  # far from every caption embedding
    plain = pipeline.BatchAssembler(train_set, vocab, pipeline.PipelineOptions(image_sizes=(16,), batch_size=32,
                                                                               seed=2), embeddings)
    for fraction in (0.5, 1.0):
        opts = pipeline.PipelineOptions(image_sizes=(16,), batch_size=32, seed=2, hard_negative_fraction=fraction)
        with_hard = pipeline.BatchAssembler(train_set, vocab, opts, embeddings, hard)
        replaced = []
        for step in range(5):
            a, b = plain(step), with_hard(step)
            for key in a:
                if key != "wrong_embedding":
                    np.testing.assert_array_equal(a[key], b[key])
            is_hard = b["wrong_embedding"][:, 0] > 50
            np.testing.assert_array_equal(a["wrong_embedding"][~is_hard], b["wrong_embedding"][~is_hard])
            for row in np.flatnonzero(is_hard):  # one of the row's own scene's hard negatives
                assert np.isclose(hard[b["index"][row]], b["wrong_embedding"][row]).all(1).any()
            replaced.append(is_hard.mean())
        assert (0.3 < np.mean(replaced) < 0.7) if fraction == 0.5 else np.mean(replaced) == 1.0
    with pytest.raises(DataError, match="hard-negative"):
        pipeline.BatchAssembler(train_set, vocab, opts, embeddings, hard[:, :, :3])


def test_hard_negative_tokens_replace_that_fraction_of_wrong_captions_and_nothing_else(train_set, vocab):
    """SISGAN's `hard_negative_fraction`: the share of the rows' mismatched captions that becomes a
    caption of the row's own scene changed in colour, shape or size (built by the recipe)."""
    import dataclasses

    from t2izoo.models.sisgan.config import SISGAN_PRESETS
    from t2izoo.models.sisgan.recipe import SisganRecipe

    config = dataclasses.replace(SISGAN_PRESETS["shapes"], hard_negative_fraction=1.0)
    ids, lengths = SisganRecipe().hard_negative_tokens(config, {"vocab": vocab}, train_set, count=2)
    assert ids.shape[:3] == (len(train_set), 3, 2) and lengths.shape == ids.shape[:3]
    assert ((ids > 0).sum(-1) == lengths).all()
    kw = dict(image_sizes=(16,), batch_size=32, max_words=ids.shape[-1], seed=2)
    plain = pipeline.BatchAssembler(train_set, vocab, pipeline.PipelineOptions(**kw))
    for fraction in (0.5, 1.0):
        opts = pipeline.PipelineOptions(**kw, hard_negative_fraction=fraction)
        with_hard = pipeline.BatchAssembler(train_set, vocab, opts, hard_negative_tokens=(ids, lengths))
        replaced = []
        for step in range(4):
            a, b = plain(step), with_hard(step)
            for key in a:
                if key not in ("wrong_tokens", "wrong_lengths"):
                    np.testing.assert_array_equal(a[key], b[key])
            for row, index in enumerate(b["index"]):
                own = (ids[index] == b["wrong_tokens"][row]).all(-1) & (lengths[index] == b["wrong_lengths"][row])
                if own.any():  # one of the row's own scene's changed captions
                    replaced.append(1.0)
                else:  # untouched: the plain mismatched caption of another image
                    np.testing.assert_array_equal(a["wrong_tokens"][row], b["wrong_tokens"][row])
                    replaced.append(0.0)
        assert (0.3 < np.mean(replaced) < 0.7) if fraction == 0.5 else np.mean(replaced) == 1.0
    with pytest.raises(DataError, match="hard-negative tokens"):
        pipeline.BatchAssembler(train_set, vocab, opts, hard_negative_tokens=(ids, lengths[:, :1]))


def test_siamese_pairs_same_image_other_wording_or_other_class(train_set, vocab):
    """SD-GAN's pairs: pair_same rows are another caption of the row's image, the others a caption
    of an image of another class; every other key is as without pairs."""
    opts = pipeline.PipelineOptions(image_sizes=(16,), batch_size=64, max_words=30, seed=4)
    plain = pipeline.BatchAssembler(train_set, vocab, opts)(3)
    paired_opts = pipeline.PipelineOptions(image_sizes=(16,), batch_size=64, max_words=30, seed=4,
                                           siamese_pairs=True, same_pair_fraction=0.25)
    batch = pipeline.BatchAssembler(train_set, vocab, paired_opts)(3)
    for k, v in plain.items():
        np.testing.assert_array_equal(batch[k], v)
    same = batch["pair_same"] > 0
    assert 0.05 < same.mean() < 0.5
    np.testing.assert_array_equal(batch["pair_index"][same], batch["index"][same])
    assert np.all(batch["pair_class_ids"][~same] != batch["class_ids"][~same])
    for k in np.flatnonzero(same):  # another wording: the token sequences differ
        n, m = batch["lengths"][k], batch["pair_lengths"][k]
        assert n != m or np.any(batch["tokens"][k, :n] != batch["pair_tokens"][k, :m])
    assert batch["pair_image_16"].shape == batch["image_16"].shape
    assert np.all(batch["pair_wrong_class_ids"] != batch["pair_class_ids"])
    assert "pair_tokens" not in pipeline.BatchAssembler(
        train_set, vocab, pipeline.PipelineOptions(image_sizes=(16,), batch_size=8, training=False,
                                                   siamese_pairs=True))(0)
