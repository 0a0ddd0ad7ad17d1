"""Keras 3 preprocessing layers: rescaling, resizing, normalization, discretization,
category encoding, vocabulary lookups, text vectorization and random image augmentation.

See ``_base.py`` for where each layer runs (backend or host) and how gradients pass.
"""

from gpunet.layers.preprocessing.augmentation import (
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from gpunet.layers.preprocessing.categorical import CategoryEncoding, Discretization
from gpunet.layers.preprocessing.color import (
    AutoContrast,
    RandomGrayscale,
    RandomInvert,
    RandomPosterization,
    Solarization,
)
from gpunet.layers.preprocessing.color_hsv import (
    RandomColorDegeneration,
    RandomHue,
    RandomSaturation,
    RandomSharpness,
)
from gpunet.layers.preprocessing.color_jitter import RandomColorJitter
from gpunet.layers.preprocessing.erasing import RandomErasing
from gpunet.layers.preprocessing.hashing import Hashing
from gpunet.layers.preprocessing.image_basic import CenterCrop, Rescaling, Resizing
from gpunet.layers.preprocessing.index_lookup import IntegerLookup, StringLookup
from gpunet.layers.preprocessing.mel_spectrogram import MelSpectrogram
from gpunet.layers.preprocessing.mixing import CutMix, MixUp
from gpunet.layers.preprocessing.normalization import Normalization
from gpunet.layers.preprocessing.pipeline import Pipeline
from gpunet.layers.preprocessing.random_crop import RandomCrop
from gpunet.layers.preprocessing.stft_spectrogram import STFTSpectrogram
from gpunet.layers.preprocessing.text_vectorization import TextVectorization

__all__ = ["CategoryEncoding", "CenterCrop", "Discretization", "IntegerLookup",
           "Normalization", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
           "RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing",
           "StringLookup", "TextVectorization"]
__all__ += ["AutoContrast", "RandomColorDegeneration", "RandomGrayscale", "RandomHue",
            "RandomInvert", "RandomPosterization", "RandomSaturation", "RandomSharpness",
            "Solarization"]
__all__ += ["CutMix", "MixUp", "RandomColorJitter", "RandomErasing"]
__all__ += ["MelSpectrogram", "Pipeline", "STFTSpectrogram"]
__all__ += ["Hashing"]
