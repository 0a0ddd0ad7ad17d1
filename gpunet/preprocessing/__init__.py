"""Preprocessing: image augmentation, text tokenisation, sequence padding."""

from gpunet.preprocessing import image, sequence, text

__all__ = ["image", "sequence", "text"]
