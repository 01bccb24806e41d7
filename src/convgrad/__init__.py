"""convgrad: convolutional neural networks from scratch on NumPy.

    import convgrad as cg
    x = cg.randn(8, 1, 28, 28)
    model = cg.models.lenet5()
    loss = cg.nn.functional.cross_entropy(model(x), cg.tensor([0] * 8))
    loss.backward()
"""
from . import backend
from .errors import (ArgumentError, ConvgradError, DTypeError, FileFormatError, ResourceLimitError,
                     ShapeError)
from .backend import Generator, get_default_dtype, get_rng_state, manual_seed, set_default_dtype, set_rng_state
from .devices import accelerator, cuda, device, xpu
from . import backends
from .tensor import (AnomalyError, Function, Size, Tensor, detect_anomaly, enable_grad, is_grad_enabled,
                     no_grad, set_grad_enabled)
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace, ones,
                       ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like)
from . import functional
from .kernels.conv_algo import set_conv_algorithm, set_fft_min_kernel, set_workspace_limit
from .kernels.blas import get_num_threads, set_num_threads
from . import nn
from . import filters, image
from . import optim
from .inspect.summary import explain, summary
from . import onnx
from . import autograd, data, io, models, training, utils, vision
from .io import load, save
from .functional import (abs, amax, amin, argmax, argmin, argsort, bmm, cat, chunk, clamp, clip, concatenate,
                         cos, cumsum, exp, expm1, flatten, flip, gather, log, log1p, logsumexp, masked_fill,
                         matmul, maximum, mean, minimum, mm, nonzero, norm, permute, reshape, scatter,
                         scatter_add, sigmoid, sin, softmax, sort, split, sqrt, squeeze, stack, std, sum, tanh,
                         topk, transpose, unsqueeze, var, where)
from .functional.comparison import max, min  # noqa: A004  (PyTorch's names; max(a, b) is maximum)
from .functional.comparison import all, any  # noqa: A004
from .functional.comparison import (allclose, count_nonzero, eq, equal, ge, greater, greater_equal, gt, isfinite, isinf, isnan, le,
                                    less, less_equal, logical_and, logical_not, logical_or, logical_xor, lt, ne,
                                    not_equal)
from .functional import add, div, mul, neg, pow, sub  # noqa: A004

# dtypes under PyTorch's names (NumPy dtypes underneath: convgrad.float32 == np.float32)
float32 = backend.float32
float64 = backend.float64
int64 = backend.int64
int32 = backend.np.int32
int16 = backend.np.int16
int8 = backend.np.int8
uint8 = backend.np.uint8
float = float32  # noqa: A001  (PyTorch's aliases; convgrad does not export them with import *)
double = float64
long = int64
int = int32  # noqa: A001
short = int16
bool = backend.bool_  # noqa: A001
dtype = backend.np.dtype

_UNSUPPORTED_DTYPES = ("float16", "half", "bfloat16", "complex64", "complex128", "cfloat", "cdouble")


def __getattr__(name):
    if name in _UNSUPPORTED_DTYPES:
        raise DTypeError(f"convgrad.{name}: convgrad computes in float32 and float64 only (its kernels are "
                         f"NumPy float32/float64 code); use convgrad.float32")
    raise AttributeError(f"module 'convgrad' has no attribute {name!r}")

__version__ = "0.1.0"

__all__ = [_n for _n in dir() if not _n.startswith("_") and _n not in ("float", "int", "bool")]
