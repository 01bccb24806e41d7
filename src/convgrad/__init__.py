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
from .backend import get_default_dtype, get_rng_state, manual_seed, set_default_dtype, set_rng_state
from .tensor import (AnomalyError, Function, Tensor, detect_anomaly, enable_grad, is_grad_enabled,
                     no_grad, set_grad_enabled)
from .creation import (arange, as_tensor, empty, eye, from_numpy, full, linspace, ones, ones_like, rand,
                       rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like)
from . import functional
from .kernels.conv_algo import set_conv_algorithm, set_fft_min_kernel, set_workspace_limit
from .kernels.blas import get_num_threads, set_num_threads
from . import nn
from . import filters, image
from . import optim
from .inspect.summary import explain, summary
from . import onnx
from . import data, io, models, training
from .io import load, save
from .functional import (abs, amax, amin, argmax, argmin, cat, chunk, clamp, clip, concatenate, cos, exp,
                         flatten, flip, log, logsumexp, matmul, maximum, mean, minimum, permute, reshape,
                         sigmoid, sin, softmax, split, sqrt, squeeze, stack, std, sum, tanh, transpose,
                         unsqueeze, var, where)
from .functional import max, min  # noqa: A004  (PyTorch's names)

float32 = backend.float32
float64 = backend.float64
int64 = backend.int64

__version__ = "0.1.0"
