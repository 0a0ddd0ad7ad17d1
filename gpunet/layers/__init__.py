"""Layers: the building blocks of models."""

from gpunet.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax, ThresholdedReLU
from gpunet.layers.convolutional import Conv1D, Conv2D, Convolution1D, Convolution2D
from gpunet.layers.core import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    KerasTensor,
)
from gpunet.layers.embedding import Embedding, Masking
from gpunet.layers.layer import Layer, clear_session
from gpunet.layers.merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from gpunet.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    UnitNormalization,
)
from gpunet.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from gpunet.layers.recurrent import GRU, LSTM, SimpleRNN
from gpunet.layers.regularization import (
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from gpunet.layers.reshaping import Permute, RepeatVector, Reshape
from gpunet.layers.rnn_wrappers import Bidirectional, TimeDistributed, Wrapper
from gpunet.layers.spatial import (
    Cropping1D,
    Cropping2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "KerasTensor",
           "Layer", "clear_session"]
__all__ += ["Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract",
            "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract"]
__all__ += ["AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D", "Conv1D", "Conv2D",
            "Convolution1D", "Convolution2D", "Cropping1D", "Cropping2D",
            "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAvgPool1D",
            "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPooling1D",
            "GlobalMaxPooling2D", "MaxPool1D", "MaxPool2D", "MaxPooling1D", "MaxPooling2D",
            "UpSampling1D", "UpSampling2D", "ZeroPadding1D", "ZeroPadding2D"]
__all__ += ["ActivityRegularization", "AlphaDropout", "BatchNormalization", "ELU",
            "GaussianDropout", "GaussianNoise", "GroupNormalization", "LayerNormalization",
            "LeakyReLU", "PReLU", "Permute", "ReLU", "RepeatVector", "Reshape", "Softmax",
            "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "ThresholdedReLU",
            "UnitNormalization"]
__all__ += ["Bidirectional", "Embedding", "GRU", "LSTM", "Masking", "SimpleRNN",
            "TimeDistributed", "Wrapper"]
