"""Losses against values computed from the papers' formulas in NumPy."""

import numpy as np
import pytest

from t2izoo.losses.adversarial import bce_with_logits
from t2izoo.losses.matching_aware import (gan_int_generator_loss, gan_int_joint_generator_loss,
                                          interpolate_embeddings, matching_aware_discriminator_loss)
from t2izoo.losses.sje import hard_image_text_loss, scene_negative_mask, symmetric_sje_loss


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_bce_matches_definition_and_is_stable(rng):
    logits = rng.normal(size=20) * 3
    for t in (0.0, 1.0):
        expected = -(t * np.log(sigmoid(logits)) + (1 - t) * np.log(1 - sigmoid(logits)))
        np.testing.assert_allclose(np.asarray(bce_with_logits(logits.astype("float32"), t)), expected, rtol=1e-4)
    extreme = np.asarray(bce_with_logits(np.array([200.0, -200.0], "float32"), 1.0))
    np.testing.assert_allclose(extreme, [0.0, 200.0], atol=1e-4)


def test_matching_aware_d_loss_is_reed_alg1(rng):
    s_r, s_w, s_f = (rng.normal(size=16).astype("float32") for _ in range(3))
    total, terms = matching_aware_discriminator_loss(s_r, s_w, s_f, cls_weight=0.5)
    # Alg. 1: L_D = log(s_r) + (log(1 - s_w) + log(1 - s_f)) / 2 (maximised); as a loss:
    expected = -(np.mean(np.log(sigmoid(s_r))) + 0.5 * np.mean(np.log(1 - sigmoid(s_w)))
                 + 0.5 * np.mean(np.log(1 - sigmoid(s_f))))
    assert float(total) == pytest.approx(expected, rel=1e-5)
    assert set(terms) == {"d_real", "d_wrong", "d_fake"}
    total_w, _ = matching_aware_discriminator_loss(s_r, s_w, s_f, cls_weight=0.0)  # plain GAN-CLS off
    assert float(total_w) == pytest.approx(-(np.mean(np.log(sigmoid(s_r))) + np.mean(np.log(1 - sigmoid(s_f)))),
                                           rel=1e-5)


def test_gan_int_generator_loss_and_interpolation(rng):
    fake, interp = rng.normal(size=8).astype("float32"), rng.normal(size=4).astype("float32")
    total, terms = gan_int_generator_loss(fake, interp, interp_weight=1.0)
    expected = -np.mean(np.log(sigmoid(fake))) - np.mean(np.log(sigmoid(interp)))
    assert float(total) == pytest.approx(expected, rel=1e-5)
    total_cls, terms_cls = gan_int_generator_loss(fake)
    assert "g_interp" not in terms_cls and float(total_cls) == pytest.approx(-np.mean(np.log(sigmoid(fake))), rel=1e-5)
    t = rng.normal(size=(6, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(interpolate_embeddings(t, 0.5)), (t[0::2] + t[1::2]) / 2, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(interpolate_embeddings(t, 0.25)), 0.25 * t[0::2] + 0.75 * t[1::2],
                               rtol=1e-6)


def test_gan_int_joint_generator_loss_weighs_fake_and_interpolated_rows_as_icml2016(rng):
    # main_cls_int.lua: BCECriterion with per-row weights 1 (64 fake rows) and interp_weight (32
    # interpolated rows), averaged over all 96 rows.
    logits = rng.normal(size=12).astype("float32")
    bce = -np.log(sigmoid(logits))
    for weight in (1.0, 0.5):
        total, terms = gan_int_joint_generator_loss(logits, 8, interp_weight=weight)
        assert float(total) == pytest.approx((bce[:8].sum() + weight * bce[8:].sum()) / 12, rel=1e-5)
        assert float(terms["g_fake"]) == pytest.approx(bce[:8].mean(), rel=1e-5)
        assert float(terms["g_interp"]) == pytest.approx(bce[8:].mean(), rel=1e-5)
    # at weight 1 the two kinds weigh 2 : 1, where the separate form weighs them 1 : 1
    total, _ = gan_int_joint_generator_loss(logits, 8)
    assert float(total) == pytest.approx(2 / 3 * bce[:8].mean() + 1 / 3 * bce[8:].mean(), rel=1e-5)


def test_symmetric_sje_loss_matches_loop(rng):
    v, t = rng.normal(size=(6, 4)).astype("float32"), rng.normal(size=(6, 4)).astype("float32")
    classes = np.array([0, 1, 1, 2, 3, 3])
    expected = 0.0
    for i in range(6):
        for j in range(6):
            if classes[i] == classes[j]:
                continue
            s_ii = v[i] @ t[i]
            expected += max(0.0, 1 + v[i] @ t[j] - s_ii) + max(0.0, 1 + v[j] @ t[i] - s_ii)
    got = float(symmetric_sje_loss(v, t, classes))
    assert got == pytest.approx(expected / 6, rel=1e-5)
    # a perfect, well-separated embedding has zero loss
    eye = np.eye(4, dtype="float32") * 10
    assert float(symmetric_sje_loss(eye, eye, np.arange(4))) == 0.0


def test_scene_negatives_count_every_pair_whose_scenes_differ(rng):
    # Scenes 0 and 1 share object 0 (one `shapes` class) but not object 1: a negative pair under
    # "scene", not under "class". Scenes 2 and 3 are identical: never a negative.
    objects = np.array([[[1, 2, 3, 0, 4], [1, 5, 0, 1, 7]],
                        [[1, 2, 3, 0, 4], [1, 6, 0, 1, 7]],
                        [[1, 0, 1, 2, 0], [0, 0, 0, 0, 0]],
                        [[1, 0, 1, 2, 0], [0, 0, 0, 0, 0]]], np.int32)
    mask = np.asarray(scene_negative_mask(objects))
    want = 1.0 - np.all(objects.reshape(4, 1, -1) == objects.reshape(1, 4, -1), axis=-1)
    np.testing.assert_array_equal(mask, want)
    assert mask[0, 1] == 1 and mask[2, 3] == 0 and not np.diag(mask).any()
    v, t = rng.normal(size=(2, 4, 3)).astype("float32")
    classes = np.array([7, 7, 1, 1])  # object 0's colour and shape
    scores = v @ t.T
    expected = sum(max(0.0, 1 + scores[i, j] - scores[i, i]) + max(0.0, 1 + scores[j, i] - scores[i, i])
                   for i in range(4) for j in range(4) if want[i, j])
    got = float(symmetric_sje_loss(v, t, classes, negative_mask=mask))
    assert got == pytest.approx(expected / 4, rel=1e-5)
    assert got > float(symmetric_sje_loss(v, t, classes))  # the (0, 1) pairs now count


def test_hard_image_text_loss_is_the_image_to_text_hinge_on_one_caption_per_image(rng):
    v, t, h = rng.normal(size=(3, 5, 4)).astype("float32")
    true, hard = np.sum(v * t, -1), np.sum(v * h, -1)
    expected = np.mean([max(0.0, 1 + v[i] @ h[i] - v[i] @ t[i]) for i in range(5)])
    assert float(hard_image_text_loss(true, hard)) == pytest.approx(expected, rel=1e-5)
    assert float(hard_image_text_loss(np.full(3, 5.0), np.full(3, 3.9))) == 0.0  # beyond the margin
