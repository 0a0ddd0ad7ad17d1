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
    "Pad": "test_conv_grad",
    "ConvND": "test_conv_extra_grad", "ConvTranspose": "test_conv_extra_grad",
    "PoolND": "test_conv_extra_grad", "UpSamplingND": "test_conv_extra_grad",
    "DepthwiseConv": "test_conv_extra_grad",
    "SimpleRNNFunction": "test_rnn_grad", "LSTMFunction": "test_rnn_grad",
    "GRUFunction": "test_rnn_grad", "EmbeddingLookup": "test_rnn_grad",
    "ScaledDotProductAttention": "test_attention_grad",
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
}


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
    missing = sorted(set(gpunet.ops.__all__) - checked)
    assert not missing, f"public ops without a gradient check: {missing}"
