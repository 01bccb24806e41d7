"""Stateless differentiable operations, one family per file (``convgrad.nn.functional``).

Each op is a :class:`convgrad.tensor.Function` with its forward computation, its backward rule
and, for layers with spatial arithmetic, its output-shape rule side by side. The names,
arguments and defaults are PyTorch's (``torch.nn.functional``).
"""
from . import tensor_methods  # noqa: F401  (binds +, @, .sum() ... to Tensor)
from ._util import ArgumentError, ShapeError
from .activations import (celu, elu, gelu, glu, hardshrink, hardsigmoid, hardswish, hardtanh, leaky_relu,
                          log_softmax, logsigmoid, mish, prelu, relu, relu6, selu, sigmoid, silu, softmax,
                          softmin, softplus, softshrink, softsign, tanh, tanhshrink, threshold)
from .dropout import alpha_dropout, dropout, dropout1d, dropout2d, dropout3d, feature_alpha_dropout
from .embedding import embedding, one_hot
from .linear import bilinear, linear
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, kl_div,
                   l1_loss, mse_loss, nll_loss, smooth_l1_loss)
from .margin_loss import (cosine_embedding_loss, hinge_embedding_loss, margin_ranking_loss, multi_margin_loss,
                          multilabel_margin_loss, multilabel_soft_margin_loss, soft_margin_loss)
from .ctc import ctc_loss
from .likelihood_loss import gaussian_nll_loss, poisson_nll_loss
from .regularization import l1_penalty, l2_penalty
from .arithmetic import add, bmm, div, matmul, mm, mul, neg, pow, sub
from .conv import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d
from .fused import conv_batch_norm
from .convolve import convolve1d, convolve2d, convolve3d, fft_conv1d, fft_conv2d, fft_conv3d
from .deform_conv import deform_conv2d
from .padding import pad
from .interpolate import interpolate, upsample, upsample_bilinear, upsample_nearest
from .pooling import (avg_pool1d, avg_pool2d, avg_pool3d, lp_pool1d, lp_pool2d, lp_pool3d, max_pool1d, max_pool2d,
                      max_pool3d, max_unpool1d, max_unpool2d, max_unpool3d, min_pool1d, min_pool2d, min_pool3d)
from .adaptive_pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d, adaptive_max_pool1d,
                               adaptive_max_pool2d, adaptive_max_pool3d, global_avg_pool2d, global_max_pool2d)
from .special_pooling import (fractional_max_pool2d, fractional_max_pool3d, spatial_pyramid_pool2d,
                              stochastic_pool2d)
from .normalization import batch_norm, group_norm, instance_norm, layer_norm, local_response_norm, rms_norm
from .elementwise import abs, cast, clamp, clip, cos, exp, expm1, log, log1p, maximum, minimum, sign, sin, sqrt
from .indexing import gather, masked_fill, nonzero, scatter, scatter_add, where
from .sorting import argsort, cumsum, sort, topk
from .norms import norm, vector_norm
from . import inplace  # noqa: F401  (binds add_, mul_, +=, fill_ ... to Tensor)
from .reductions import amax, amin, argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .shape import (broadcast_to, cat, chunk, clone, concatenate, contiguous, expand, flatten, flip,
                    getitem, permute, reshape, split, squeeze, stack, t, transpose, unflatten,
                    unsqueeze, view)
