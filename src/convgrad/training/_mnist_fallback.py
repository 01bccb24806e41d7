"""TEMPORARY: ``convgrad.models.build_for_data`` of the data contract (INTERFACES.md section 1)
until branch `data` provides it (channels and classes only, no size adaptation). Delete this
file when ``convgrad.models.build_for_data`` exists."""
from ..io.checkpoint import build_model


def build_for_data(name, input_shape, num_classes, **kwargs):
    kwargs = {"num_classes": num_classes, "in_channels": int(input_shape[0]), **kwargs}
    return build_model(name, **kwargs), kwargs
