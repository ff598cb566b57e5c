"""The locnet loss against a hand computation (NumPy + SciPy, pixel by pixel)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from smlmscale.errors import InputError


@pytest.fixture(scope="module")
def losses():
    from smlmscale.models import losses

    return losses


def _maps(height, width, emitters, *, is_3d, seed=0):
    """Targets with ``emitters`` = [(row, col, photons, dx, dy, z)] and a random output."""
    rng = np.random.default_rng(seed)
    targets = np.zeros((height, width, 6 if is_3d else 5), np.float32)
    targets[..., -1] = rng.uniform(15, 25, (height, width))
    for row, col, photons, dx, dy, z in emitters:
        targets[row, col, :4] = (1.0, photons, dx, dy)
        if is_3d:
            targets[row, col, 4] = z
    out = np.zeros((height, width, 10 if is_3d else 8), np.float32)
    shape = (height, width)
    out[..., 0] = rng.uniform(0.05, 0.95, shape)
    out[..., 1] = rng.uniform(500, 1500, shape)
    out[..., 2:4] = rng.uniform(-0.9, 0.9, (*shape, 2))
    sig = 4
    if is_3d:
        out[..., 4] = rng.uniform(-300, 300, shape)
        sig = 5
    out[..., sig] = rng.uniform(100, 400, shape)
    out[..., sig + 1:sig + 3] = rng.uniform(0.2, 1.0, (*shape, 2))
    if is_3d:
        out[..., sig + 3] = rng.uniform(30, 150, shape)
    out[..., -1] = rng.uniform(10, 30, shape)
    return targets, out


def _by_hand(targets, out, *, is_3d, losses):
    """The loss terms of one sample, computed pixel by pixel in float64."""
    t, o = targets.astype(np.float64), out.astype(np.float64)
    height, width = t.shape[:2]
    p = np.clip(o[..., 0], losses.P_EPS, 1 - losses.P_EPS)
    occ = t[..., 0]
    detection = -np.sum(occ * np.log(p) + (1 - occ) * np.log(1 - p))
    sig = 5 if is_3d else 4

    def values(m, i, j):  # (x, y, [z], photons) of a target or component
        v = [j + 0.5 + m[i, j, 2], i + 0.5 + m[i, j, 3]]
        return v + ([m[i, j, 4]] if is_3d else []) + [m[i, j, 1]]

    mixture = 0.0
    for i, j in zip(*np.nonzero(occ > 0.5)):
        emitter = values(t, i, j)
        logs = []
        for a in range(height):
            for b in range(width):
                mu = values(o, a, b)
                sd = [o[a, b, sig + 1], o[a, b, sig + 2]] + (
                    [o[a, b, sig + 3]] if is_3d else []) + [o[a, b, sig]]
                logs.append(math.log(p[a, b] / p.sum())
                            + stats.norm.logpdf(emitter, mu, sd).sum())
        mixture -= special.logsumexp(logs)
    var = (p * (1 - p)).sum() + losses.COUNT_VAR_FLOOR
    count = -stats.norm.logpdf((occ > 0.5).sum(), p.sum(), math.sqrt(var))
    background = np.mean((o[..., -1] - t[..., -1]) ** 2)
    return {"detection": detection, "mixture": mixture, "count_nll": count,
            "background": background}


def _batch(*samples):
    return (np.stack([s[0] for s in samples]), np.stack([s[1] for s in samples]))


def test_terms_equal_the_hand_computation_2d(losses):
    two = _maps(4, 4, [(1, 2, 1000.0, 0.2, -0.3, 0), (3, 0, 800.0, -0.45, 0.1, 0)],
                is_3d=False)
    none = _maps(4, 4, [], is_3d=False, seed=1)
    y_true, y_pred = _batch(two, none)
    loss = losses.locnet_loss(max_emitters=4, detection_weight=2.0, count_weight=0.5,
                              background_weight=0.1)
    terms = {k: np.asarray(v) for k, v in loss.terms(y_true, y_pred).items()}
    for n, sample in enumerate((two, none)):
        expected = _by_hand(*sample, is_3d=False, losses=losses)
        for name, value in expected.items():
            np.testing.assert_allclose(terms[name][n], value, rtol=1e-5, atol=1e-5,
                                       err_msg=name)
    assert terms["mixture"][1] == 0
    total = (2.0 * terms["detection"] + 0.5 * (terms["mixture"] + terms["count_nll"])
             + 0.1 * terms["background"])
    np.testing.assert_allclose(np.asarray(loss.call(y_true, y_pred)), total, rtol=1e-6)
    np.testing.assert_allclose(float(loss(y_true, y_pred)), total.mean(), rtol=1e-6)


def test_terms_equal_the_hand_computation_3d(losses):
    sample = _maps(3, 3, [(1, 1, 1200.0, 0.1, 0.25, 120.0), (0, 2, 900.0, -0.2, 0.0, -80.0)],
                   is_3d=True, seed=2)
    y_true, y_pred = _batch(sample)
    for is_3d in (True, None):
        terms = losses.LocNetLoss(is_3d=is_3d).terms(y_true, y_pred)
        for name, value in _by_hand(*sample, is_3d=True, losses=losses).items():
            np.testing.assert_allclose(np.asarray(terms[name])[0], value, rtol=1e-5,
                                       atol=1e-5, err_msg=name)


def test_masked_slots_and_unoccupied_targets_contribute_nothing(losses):
    y_true, y_pred = _batch(_maps(4, 4, [(0, 0, 1000.0, 0.1, 0.1, 0),
                                         (2, 3, 700.0, 0.0, -0.2, 0)], is_3d=False, seed=3))
    exact = np.asarray(losses.locnet_loss(max_emitters=2)(y_true, y_pred))
    more_slots = np.asarray(losses.locnet_loss(max_emitters=16)(y_true, y_pred))
    np.testing.assert_allclose(more_slots, exact, rtol=1e-6)
    junk = y_true.copy()
    empty = junk[..., 0] == 0
    junk[..., 1:4][empty] = np.random.default_rng(4).uniform(-5, 5, (empty.sum(), 3))
    np.testing.assert_allclose(np.asarray(losses.locnet_loss(max_emitters=16)(junk, y_pred)),
                               exact, rtol=1e-6)


def test_loss_decreases_towards_the_truth(losses):
    y_true, start = _batch(_maps(8, 8, [(2, 5, 1500.0, 0.3, -0.1, 0),
                                        (6, 1, 900.0, -0.2, 0.4, 0)], is_3d=False, seed=5))
    ideal = start.copy()
    ideal[..., 0] = np.where(y_true[..., 0] > 0, 0.95, 0.01)
    ideal[..., 1:4] = np.where(y_true[..., :1] > 0, y_true[..., 1:4], start[..., 1:4])
    ideal[..., 4] = 30.0
    ideal[..., 5:7] = 0.05
    ideal[..., 7] = y_true[..., 4]
    loss = losses.locnet_loss()
    values = [float(loss(y_true, start + a * (ideal - start))) for a in np.linspace(0, 1, 6)]
    assert all(b < a for a, b in zip(values, values[1:])), values


def test_saturated_outputs_stay_finite(losses):
    y_true, y_pred = _batch(_maps(4, 4, [(1, 1, 1000.0, 0.0, 0.0, 0)], is_3d=False))
    y_pred[..., 0] = np.where(y_true[..., 0] > 0, 0.0, 1.0)
    y_pred[..., 4:7] = 0.0
    assert np.all(np.isfinite(np.asarray(losses.locnet_loss()(y_true, y_pred))))


def test_parameters_config_and_bad_shapes(losses):
    import keras

    loss = losses.get_loss("locnet", is_3d=True, max_emitters=7, background_weight=0.5)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, losses.LocNetLoss)
    assert (again.is_3d, again.max_emitters, again.background_weight) == (True, 7, 0.5)
    assert again.detection_weight == losses.DETECTION_WEIGHT == 2.0 == loss.detection_weight
    for bad in ({"max_emitters": 0}, {"detection_weight": -1.0}, {"count_weight": "1"}):
        with pytest.raises(InputError, match="locnet loss"):
            losses.locnet_loss(**bad)
    y_true, y_pred = _batch(_maps(4, 4, [], is_3d=False))
    with pytest.raises(InputError, match="5 or 6"):
        loss(y_true, y_pred)  # a 3D loss on 2D maps
    with pytest.raises(InputError, match="5 or 6"):
        losses.locnet_loss()(y_true[..., :4], y_pred)
