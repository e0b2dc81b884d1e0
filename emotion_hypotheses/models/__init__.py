"""MusicGen and text-encoder loading: Hugging Face ids, local directories and built-in models."""

from .loading import LoadedModel, load_musicgen, BUILTIN_MODELS, is_builtin
from .text_encoders import TextEncoder, load_text_encoder

__all__ = ["LoadedModel", "load_musicgen", "BUILTIN_MODELS", "is_builtin", "TextEncoder", "load_text_encoder"]
