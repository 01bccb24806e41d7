"""``convgrad.utils``: PyTorch's ``torch.utils`` names that convgrad provides (``utils.data``)."""
from . import data  # noqa: F401
