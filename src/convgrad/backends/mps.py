"""``torch.backends.mps``: Apple's Metal backend is not available (convgrad runs on the CPU)."""


def is_available():
    return False


def is_built():
    return False
