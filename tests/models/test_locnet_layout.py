"""The layout read off a built locnet model: receptive field, pooling grid, its halves."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.models import build_locnet
from smlmscale.models import locnet_layout as layout


def _frames(shape, seed=0):
    return np.random.default_rng(seed).normal(0, 1, shape).astype(np.float32)


@pytest.mark.parametrize(("head_filters", "full_convs", "radius"),
                         [(0, 1, 26), (4, 1, 27), (4, 2, 31)])
def test_receptive_field(head_filters, full_convs, radius):
    assert layout.pooling_factor(2) == 4
    assert layout.receptive_field_px(2, head_convs=int(head_filters > 0),
                                     full_convs=full_convs) == radius
    model = build_locnet((None, None, 1), photon_scale=1000.0, filters=4,
                         head_filters=head_filters, full_convs=full_convs)
    assert sum(layer.name.startswith("context_down0") for layer in model.layers) == full_convs
    assert any(layer.name == layout.HEAD_CONV_LAYER
               for layer in model.layers) == (head_filters > 0)
    assert layout.model_field(model) == (radius, 4)
    x = _frames((1, 64, 64, 1))
    y = x.copy()
    y[0, 0, 0, 0] += 10.0  # a change in a corner reaches at most the radius away
    diff = np.abs(np.asarray(model(x)) - np.asarray(model(y))).max(axis=-1)[0]
    rows, cols = np.nonzero(diff > 1e-6)
    assert rows.max() <= radius and cols.max() <= radius
    assert max(rows.max(), cols.max()) >= radius - 4     # the bound is nearly reached


def test_halves_equal_the_whole_model():
    model = build_locnet((None, None, 3), photon_scale=1000.0, filters=4)
    frame_net, context_net, features = layout.split_locnet(model)
    x = _frames((2, 16, 16, 3))
    per_frame = [np.asarray(frame_net(x[..., k:k + 1])) for k in range(3)]
    assert per_frame[0].shape == (2, 16, 16, features)
    joined = np.concatenate(per_frame, axis=-1)
    np.testing.assert_allclose(np.asarray(context_net(joined)), np.asarray(model(x)),
                               atol=1e-5)
    assert layout.split_locnet(build_locnet((None, None, 1), photon_scale=1.0,
                                            filters=4)) is None
