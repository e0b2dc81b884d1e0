"""Exceptions that the suite raises for bad input, each naming the value and the fix."""


class EmotionHypothesesError(Exception):
    """Base class for errors a user can fix by changing input, options or files."""


class PromptSetError(EmotionHypothesesError):
    """A prompt set file is malformed, incomplete or inconsistent."""


class ThresholdError(EmotionHypothesesError):
    """A thresholds file is malformed or lacks a threshold a test needs."""


class ModelLoadError(EmotionHypothesesError):
    """A model could not be loaded: unknown name, missing weights or an unsupported checkpoint."""


class UnsupportedModelError(ModelLoadError):
    """The checkpoint loads, but the suite does not support it (stereo, for example)."""


class StoreError(EmotionHypothesesError):
    """The run store cannot read or write an entry."""


class CorruptEntryError(StoreError):
    """A stored entry failed its checksum or could not be parsed."""


class InsufficientDataError(EmotionHypothesesError):
    """An analysis received too few samples or classes to compute a meaningful value."""
