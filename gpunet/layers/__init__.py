"""Layers: the building blocks of models."""

from gpunet.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax, ThresholdedReLU
from gpunet.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from gpunet.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D
from gpunet.layers.convolutional import Conv1D, Conv2D, Convolution1D, Convolution2D
from gpunet.layers.convolutional_depthwise import (
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
    SeparableConvolution1D,
    SeparableConvolution2D,
)
from gpunet.layers.convolutional_extra import (
    Conv1DTranspose,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    Convolution1DTranspose,
    Convolution2DTranspose,
    Convolution3D,
    Convolution3DTranspose,
)
from gpunet.layers.core import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    KerasTensor,
)
from gpunet.layers.einsum_dense import EinsumDense
from gpunet.layers.embedding import Embedding, Masking
from gpunet.layers.group_query_attention import GroupQueryAttention
from gpunet.layers.identity import Identity
from gpunet.layers.input_spec import InputSpec
from gpunet.layers.lambda_layer import Lambda, OpLambda
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
from gpunet.layers.pooling_adaptive import (
    AdaptiveAveragePooling1D,
    AdaptiveAveragePooling2D,
    AdaptiveAveragePooling3D,
    AdaptiveMaxPooling1D,
    AdaptiveMaxPooling2D,
    AdaptiveMaxPooling3D,
)
from gpunet.layers.preprocessing import (
    AutoContrast,
    CategoryEncoding,
    CenterCrop,
    CutMix,
    Discretization,
    Hashing,
    IntegerLookup,
    MelSpectrogram,
    MixUp,
    Normalization,
    Pipeline,
    RandomBrightness,
    RandomColorDegeneration,
    RandomColorJitter,
    RandomContrast,
    RandomCrop,
    RandomErasing,
    RandomFlip,
    RandomGrayscale,
    RandomHue,
    RandomInvert,
    RandomPosterization,
    RandomRotation,
    RandomSaturation,
    RandomSharpness,
    RandomTranslation,
    RandomZoom,
    Rescaling,
    Resizing,
    Solarization,
    STFTSpectrogram,
    StringLookup,
    TextVectorization,
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
from gpunet.layers.reversible_embedding import ReversibleEmbedding
from gpunet.layers.rms_normalization import RMSNormalization
from gpunet.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from gpunet.layers.rnn_generic import RNN
from gpunet.layers.rnn_wrappers import Bidirectional, TimeDistributed, Wrapper
from gpunet.layers.serialization import deserialize, serialize
from gpunet.layers.spatial import (
    Cropping1D,
    Cropping2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from gpunet.layers.spatial3d import (
    AveragePooling3D,
    AvgPool3D,
    Cropping3D,
    GlobalAveragePooling3D,
    GlobalAvgPool3D,
    GlobalMaxPool3D,
    GlobalMaxPooling3D,
    MaxPool3D,
    MaxPooling3D,
    UpSampling3D,
    ZeroPadding3D,
)
from gpunet.layers.spectral_normalization import SpectralNormalization

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "KerasTensor",
           "InputSpec", "Layer", "clear_session"]
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
__all__ += ["Conv1DTranspose", "Conv2DTranspose", "Conv3D", "Conv3DTranspose",
            "Convolution1DTranspose", "Convolution2DTranspose", "Convolution3D",
            "Convolution3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
            "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D"]
__all__ += ["AveragePooling3D", "AvgPool3D", "Cropping3D", "GlobalAveragePooling3D",
            "GlobalAvgPool3D", "GlobalMaxPool3D", "GlobalMaxPooling3D", "MaxPool3D",
            "MaxPooling3D", "UpSampling3D", "ZeroPadding3D"]
__all__ += ["AdditiveAttention", "Attention", "MultiHeadAttention"]
__all__ += ["GroupQueryAttention"]
__all__ += ["SpectralNormalization"]
__all__ += ["ReversibleEmbedding"]
__all__ += ["Lambda", "OpLambda"]
__all__ += ["CategoryEncoding", "CenterCrop", "Discretization", "IntegerLookup",
            "Normalization", "RandomBrightness", "RandomContrast", "RandomFlip",
            "RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing",
            "StringLookup", "TextVectorization"]
__all__ += ["GRUCell", "LSTMCell", "RNN", "SimpleRNNCell", "StackedRNNCells"]
__all__ += ["ConvLSTM1D", "ConvLSTM2D"]
__all__ += ["EinsumDense", "Identity", "RMSNormalization", "RandomCrop"]
__all__ += ["AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
            "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D"]
__all__ += ["AutoContrast", "RandomColorDegeneration", "RandomGrayscale", "RandomHue",
            "RandomInvert", "RandomPosterization", "RandomSaturation", "RandomSharpness",
            "Solarization"]
__all__ += ["CutMix", "MixUp", "RandomColorJitter", "RandomErasing"]
__all__ += ["MelSpectrogram", "Pipeline", "STFTSpectrogram"]
__all__ += ["deserialize", "serialize"]
__all__ += ["Hashing"]
