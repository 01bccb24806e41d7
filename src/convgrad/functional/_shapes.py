"""Shape formatting for error messages of the activation, linear, dropout and loss ops."""


def shape_repr(shape):
    """``(64, 256)``, ``(3,)`` for one dimension and ``()`` for a scalar: Python's tuple spelling."""
    return str(tuple(int(s) for s in shape))
