"""Every ``Function`` and public op in ``gpunet.ops`` has a float64 gradient check.

When this fails, a new op was added: give it a ``check_grad`` test in ``tests/ops/`` and list
it below with the test that covers it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import gpunet.ops
from gpunet.autograd import Function

# Function subclass -> the test module that gradient-checks it.
CHECKED_FUNCTIONS = {
    "Add": "test_math_grad", "Subtract": "test_math_grad", "Multiply": "test_math_grad",
    "Divide": "test_math_grad", "Power": "test_math_grad", "Maximum": "test_math_grad",
    "Minimum": "test_math_grad", "MatMul": "test_math_grad", "_Unary": "test_math_grad",
    "Clip": "test_math_grad", "Where": "test_math_grad", "Sum": "test_math_grad",
    "Mean": "test_math_grad", "_Extreme": "test_math_grad", "_Cast": "test_math_grad",
    "Dense": "test_nn_grad", "ReLU": "test_nn_grad", "Sigmoid": "test_nn_grad",
    "Softmax": "test_nn_grad", "LogSoftmax": "test_nn_grad", "Dropout": "test_nn_grad",
    "Reshape": "test_shape_grad", "Transpose": "test_shape_grad", "GetItem": "test_shape_grad",
    "Concatenate": "test_shape_grad", "Stack": "test_shape_grad",
    "SparseSoftmaxCrossEntropy": "test_losses_grad", "SoftmaxCrossEntropy": "test_losses_grad",
    "SigmoidCrossEntropy": "test_losses_grad",
    "Normalize": "test_normalization",  # tests/layers/test_normalization.py
    "Conv": "test_conv_grad", "Pool": "test_conv_grad", "UpSampling": "test_conv_grad",
    "Pad": "test_conv_grad", "ConvReluPool": "test_conv_pool",
    "ConvND": "test_conv_extra_grad", "ConvTranspose": "test_conv_extra_grad",
    "PoolND": "test_conv_extra_grad", "UpSamplingND": "test_conv_extra_grad",
    "DepthwiseConv": "test_conv_extra_grad",
    "SimpleRNNFunction": "test_rnn_grad", "LSTMFunction": "test_rnn_grad",
    "GRUFunction": "test_rnn_grad", "EmbeddingLookup": "test_rnn_grad",
    "ScaledDotProductAttention": "test_attention_grad",
    "Gather": "test_keras_ops_grad", "ElementwiseBinary": "test_keras_ops_grad",
    "Prod": "test_keras_ops_grad", "Cumsum": "test_keras_ops_grad",
    "Cumprod": "test_keras_ops_grad", "Einsum": "test_keras_ops_grad",
    "Inv": "test_keras_ops_grad", "Det": "test_keras_ops_grad", "Slogdet": "test_keras_ops_grad",
    "Solve": "test_keras_ops_grad", "Cholesky": "test_keras_ops_grad",
    "_Custom": "test_keras_ops_grad", "_Identity": "test_keras_ops_grad",
    "_ScatterUpdate": "test_keras_ops_grad", "_SegmentSum": "test_keras_ops_grad",
    "_SliceUpdate": "test_keras_ops_grad", "Fold": "test_keras_ops_grad",
    "CTCLoss": "test_extra_losses",  # tests/losses/test_extra_losses.py
}
ABSTRACT = {"_Binary", "_Recurrent"}

CHECKED_OPS = {
    "test_attention_grad": "scaled_dot_product_attention",
    "test_math_grad": "abs add cast clip cos divide exp log log1p matmul max maximum mean min "
                      "minimum multiply negative power sign sin sqrt square subtract sum tanh "
                      "where",
    "test_nn_grad": "dense dropout elu exponential gelu hard_sigmoid hard_silu hard_swish "
                    "leaky_relu linear log_softmax mish relu relu6 selu sigmoid silu softmax "
                    "softplus softsign swish",
    "test_rnn_grad": "embedding_lookup gru lstm simple_rnn",
    "test_shape_grad": "concatenate expand_dims flatten getitem reshape squeeze stack transpose",
    "test_losses_grad": "sigmoid_cross_entropy softmax_cross_entropy "
                        "sparse_softmax_cross_entropy",
    "test_conv_grad": "avg_pool1d avg_pool2d conv1d conv2d max_pool1d max_pool2d pad "
                      "upsampling2d",
    "test_conv_extra_grad": "avg_pool3d conv3d conv_transpose depthwise_conv max_pool3d "
                            "separable_conv upsampling3d",
    "test_keras_ops_grad": (
        "adaptive_average_pool adaptive_max_pool ctc_loss fold istft rearrange stft unfold "
        "amax amin append arccos arccosh arcsin arcsinh arctan arctan2 arctanh array_split "
        "associative_scan average average_pool batch_normalization binary_crossentropy "
        "broadcast_to categorical_crossentropy cbrt cdist celu cholesky cholesky_inverse cond "
        "conv conv_transpose copy corrcoef correlate cosh cross cumprod cumsum custom_gradient "
        "deg2rad depth_to_space depthwise_conv det diag diagflat diagonal diff divide_no_nan "
        "dot dot_product_attention dsplit dstack einsum erf erfc erfinv exp2 expm1 "
        "extract_sequences flip fliplr flipud fmax fmin fmod fori_loop get_item glu "
        "hard_shrink hard_tanh hsplit hstack hypot inner inv kron layer_normalization ldexp "
        "log10 log2 log_sigmoid logaddexp logaddexp2 logdet logsumexp map max_pool median "
        "meshgrid mod moments moveaxis nan_to_num nancumprod nancumsum nanmax nanmean nanmin "
        "nanprod nanstd nansum nanvar norm normalize outer pad percentile prod psnr ptp "
        "quantile rad2deg ravel reciprocal repeat rms_normalization roll rot90 rsqrt "
        "saturate_cast scan scatter scatter_update segment_max segment_min segment_sum select "
        "separable_conv sinc sinh slice slice_update slogdet soft_shrink solve "
        "solve_triangular sort space_to_depth sparse_categorical_crossentropy sparse_plus "
        "sparse_sigmoid sparsemax split squareplus std swapaxes switch take take_along_axis "
        "tan tanh_shrink tensordot threshold tile top_k trace trapezoid tril triu unstack "
        "vander var vdot vectorized_map vsplit vstack where while_loop"),
}
# Other names of gpunet.ops for the same function.
ALIASES = {"absolute": "abs", "fabs": "abs", "true_divide": "divide", "conjugate": "conj"}
# Public names with no gradient to check, as in Keras: creation and conversion, indices and
# counts, comparisons and logic, bit operations, piecewise-constant rounding, factorisations
# computed without a gradient, complex/FFT helpers, and the namespaces (``image``'s functions
# are gradient-checked in test_image_ops / test_image_ops_random).
NO_GRADIENT = set("""
    all allclose angle any arange argmax argmin argpartition argsort array bartlett bincount
    bitwise_and bitwise_invert bitwise_left_shift bitwise_not bitwise_or bitwise_right_shift
    bitwise_xor blackman ceil conj convert_to_numpy ctc_decode convert_to_tensor count_nonzero
    digitize
    dtype eig eigh empty empty_like equal eye fft fft2 floor floor_divide full full_like gcd
    geomspace greater greater_equal hamming hanning heaviside histogram i0 identity ifft2 image imag
    in_top_k irfft is_tensor isclose isfinite isin isinf isnan isneginf isposinf isreal kaiser
    lcm left_shift less less_equal linalg linspace logical_and logical_not logical_or
    logical_xor logspace lstsq lu_factor matrix_rank multi_hot nanargmax nanargmin nanmedian
    nanpercentile nanquantile ndim nextafter nn nonzero not_equal numpy one_hot ones ones_like
    pinv polar qr real rfft right_shift round searchsorted segment_prod shape signbit size
    stop_gradient svd tri trunc unique unravel_index vectorize view view_as_complex
    view_as_real zeros zeros_like
""".split())


def _function_classes():
    found = {}
    for info in pkgutil.iter_modules(gpunet.ops.__path__):
        mod = importlib.import_module(f"gpunet.ops.{info.name}")
        for name, obj in vars(mod).items():
            if (inspect.isclass(obj) and issubclass(obj, Function)
                    and obj.__module__ == mod.__name__):
                found[name] = mod.__name__
    return found


def test_every_function_subclass_is_gradient_checked():
    found = _function_classes()
    missing = sorted(set(found) - set(CHECKED_FUNCTIONS) - ABSTRACT)
    assert not missing, f"Function subclasses without a gradient check: {missing}"
    stale = sorted(set(CHECKED_FUNCTIONS) - set(found))
    assert not stale, f"listed here but no longer in gpunet.ops: {stale}"


def test_every_public_op_is_gradient_checked():
    checked = {n for names in CHECKED_OPS.values() for n in names.split()}
    for alias, target in ALIASES.items():
        assert getattr(gpunet.ops, alias) is getattr(gpunet.ops, target)
    missing = sorted(set(gpunet.ops.__all__) - checked - set(ALIASES) - NO_GRADIENT)
    assert not missing, f"public ops without a gradient check: {missing}"
