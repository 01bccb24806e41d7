"""detect_anomaly: the first op that produces NaN or Inf raises, naming the op (and layer)."""
import numpy as np
import pytest

import convgrad as cg


def test_forward_nan_raises_naming_the_op():
    x = cg.tensor([-1.0, 1.0], requires_grad=True)
    with cg.detect_anomaly():
        with pytest.raises(cg.AnomalyError, match="forward of Log produced NaN"):
            x.log()


def test_backward_inf_raises_naming_the_op():
    x = cg.tensor([0.0, 1.0], requires_grad=True)
    y = x.sqrt().sum()  # finite forward, infinite gradient at 0
    with cg.detect_anomaly():
        with pytest.raises(cg.AnomalyError, match="backward of Sqrt"):
            y.backward()


def test_anomaly_names_the_layer():
    class Bad(cg.nn.Module):
        def forward(self, x):
            return x / 0.0

    layer = Bad()
    with cg.detect_anomaly():
        with pytest.raises(cg.AnomalyError, match="in layer 'Bad'"):
            layer(cg.ones(2))


def test_without_detect_anomaly_nan_passes_silently():
    with np.errstate(invalid="ignore"):
        out = cg.tensor([-1.0]).log()
    assert np.isnan(out.item())


def test_anomaly_names_nested_layers_by_their_attribute_path():
    class Explode(cg.nn.Module):
        def forward(self, x):
            return (-(x * x) - 1).log()  # log of a negative number: NaN whatever the weights

    model = cg.nn.Sequential(cg.nn.Linear(2, 2), cg.nn.Sequential(cg.nn.Identity(), Explode()))
    with cg.detect_anomaly():
        with pytest.raises(cg.AnomalyError, match=r"in layer '1\.1'"):
            model(cg.ones(1, 2))
