"""Describe waveforms by loudness, brightness, rhythm and mode, the acoustic correlates of emotion.

The module offers:

- ``acoustic_features``: RMS level (mean dBFS), spectral centroid (Hz), onset rate (onsets per
  second), tempo (BPM) and a major/minor mode estimate for one waveform.
- ``estimate_mode``: the Krumhansl-Kessler key-profile mode estimate from a 12-bin chroma vector.
- ``acoustic_table``: the features of many waveforms as one array per feature.

Features come from librosa (0.11). On a 2-core CPU, importing librosa took about 3 s, and the
first import after installation took about 24 s because numba compiles and caches code. So
librosa is imported inside the functions that need it, not with this module.

Short and silent audio: a waveform shorter than one STFT frame (2048 samples) raises
InsufficientDataError. Silent audio (every frame below -100 dBFS) gets ``rms_db`` = -100,
``onset_rate`` = 0 and NaN for the features that need sound (centroid, tempo, mode score),
with ``mode`` = "undetermined". Tempo is also NaN for audio shorter than 2 s or with fewer
than 2 detected beats.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from emotion_hypotheses.errors import InsufficientDataError

N_FFT = 2048
HOP_LENGTH = 512

# Frame RMS below 1e-5 (-100 dBFS) counts as silence, and dB values are clamped there.
SILENCE_RMS = 1e-5
SILENCE_DB = 20.0 * np.log10(SILENCE_RMS)

# Frames more than 60 dB below the loudest frame are left out of the mean centroid,
# because the centroid of near-silence is noise (and exactly 0 in digital silence).
CENTROID_RANGE_DB = 60.0

# Two beats at the 60 BPM lower end of common tempi take 2 s, so shorter audio gets NaN tempo.
MIN_TEMPO_DURATION_S = 2.0

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# Krumhansl-Kessler probe-tone ratings for C major and C minor, starting at C,
# the profiles of the Krumhansl-Schmuckler key-finding algorithm.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class AcousticFeatures:
    """Acoustic features of one waveform.

    ``rms_db`` is the mean over frames of the frame RMS level in dBFS (full scale = 1.0),
    clamped at -100 dBFS. ``spectral_centroid_hz`` is the mean centroid of frames within
    60 dB of the loudest frame. ``onset_rate`` is in onsets per second and ``tempo_bpm`` in
    beats per minute. ``mode`` is "major", "minor" or "undetermined". ``mode_score`` is the
    best major-key correlation minus the best minor-key correlation (positive leans major,
    in [-2, 2]). ``tonic`` is the pitch class of the winning key, or "" when undetermined.
    """

    duration_s: float
    rms_db: float
    spectral_centroid_hz: float
    onset_rate: float
    tempo_bpm: float
    mode: str
    mode_score: float
    tonic: str


def _validate_waveform(waveform: np.ndarray, sr: int) -> np.ndarray:
    waveform = np.asarray(waveform, dtype=np.float32)

    if waveform.ndim != 1:
        raise ValueError(f"waveform must be mono with shape (n,), got shape {waveform.shape}. Mix channels down first")

    if sr <= 0:
        raise ValueError(f"sr must be a positive sample rate in Hz, got {sr}")

    if not np.all(np.isfinite(waveform)):
        raise ValueError("waveform contains NaN or infinite samples. Check the decoder output")

    if waveform.size < N_FFT:
        raise InsufficientDataError(
            f"waveform has {waveform.size} samples ({waveform.size / sr:.3f} s at {sr} Hz), but acoustic "
            f"features need at least {N_FFT} samples (one STFT frame). Generate longer audio"
        )

    return waveform


def estimate_mode(chroma: np.ndarray) -> tuple[str, float, str]:
    """Estimate major or minor mode from a 12-bin chroma vector starting at C.

    ``chroma`` is the time-averaged pitch-class energy. It is correlated (Pearson) with
    the Krumhansl-Kessler major and minor profiles rotated to all 12 tonics. Returns
    (mode, score, tonic): the score is the best major correlation minus the best minor
    correlation, and the mode and tonic are those of the better key. A score near 0 is
    ambiguous (a single pitch class gives about 0.001), so read the sign together with the
    size. A flat chroma has no defined correlation and returns ("undetermined", NaN, "").
    """
    # Hand-rolled because librosa (0.11) has chroma features but no key or mode estimation.
    chroma = np.asarray(chroma, dtype=np.float64)

    if chroma.shape != (12,):
        raise ValueError(f"chroma must have shape (12,), got shape {chroma.shape}")

    if not np.all(np.isfinite(chroma)) or np.ptp(chroma) == 0:
        return "undetermined", float("nan"), ""

    # Row r is the profile whose tonic is pitch class r.
    major_keys = np.stack([np.roll(MAJOR_PROFILE, tonic) for tonic in range(12)])
    minor_keys = np.stack([np.roll(MINOR_PROFILE, tonic) for tonic in range(12)])

    major_correlations = np.array([np.corrcoef(chroma, key)[0, 1] for key in major_keys])
    minor_correlations = np.array([np.corrcoef(chroma, key)[0, 1] for key in minor_keys])

    best_major = int(np.argmax(major_correlations))
    best_minor = int(np.argmax(minor_correlations))
    score = float(major_correlations[best_major] - minor_correlations[best_minor])

    if score > 0:
        return "major", score, PITCH_CLASSES[best_major]

    if score < 0:
        return "minor", score, PITCH_CLASSES[best_minor]

    return "undetermined", score, ""


def acoustic_features(waveform: np.ndarray, sr: int) -> AcousticFeatures:
    """Compute loudness, spectral centroid, onset rate, tempo and mode of a mono waveform.

    ``waveform`` is ``(n,)`` float with full scale 1.0, ``sr`` its sample rate in Hz. See
    ``AcousticFeatures`` for units and the module docstring for short and silent audio.
    Raises InsufficientDataError for fewer than 2048 samples.
    """
    import librosa

    waveform = _validate_waveform(waveform, sr)
    duration_s = waveform.size / sr

    frame_rms = librosa.feature.rms(y=waveform, frame_length=N_FFT, hop_length=HOP_LENGTH)[0].astype(np.float64)
    frame_db = 20.0 * np.log10(np.maximum(frame_rms, SILENCE_RMS))
    rms_db = float(np.mean(frame_db))

    if frame_rms.max() < SILENCE_RMS:
        return AcousticFeatures(
            duration_s=duration_s,
            rms_db=rms_db,
            spectral_centroid_hz=float("nan"),
            onset_rate=0.0,
            tempo_bpm=float("nan"),
            mode="undetermined",
            mode_score=float("nan"),
            tonic="",
        )

    centroid = librosa.feature.spectral_centroid(y=waveform, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH)[0]
    audible = frame_db >= frame_db.max() - CENTROID_RANGE_DB
    spectral_centroid_hz = float(np.mean(centroid[audible]))

    onset_envelope = librosa.onset.onset_strength(y=waveform, sr=sr, hop_length=HOP_LENGTH)
    onsets = librosa.onset.onset_detect(onset_envelope=onset_envelope, sr=sr, hop_length=HOP_LENGTH)
    onset_rate = len(onsets) / duration_s

    tempo_bpm = float("nan")
    if duration_s >= MIN_TEMPO_DURATION_S:
        tempo, beats = librosa.beat.beat_track(onset_envelope=onset_envelope, sr=sr, hop_length=HOP_LENGTH)
        if len(beats) >= 2:
            tempo_bpm = float(np.atleast_1d(tempo)[0])

    # The CQT halves the sample rate once per octave, so for clips of a few seconds the lowest
    # octaves are shorter than librosa's internal FFT and it warns ("n_fft=... is too large").
    # Those octaves are zero-padded, which is expected here and leaves the chroma usable.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large for input signal", category=UserWarning)
        chroma = librosa.feature.chroma_cqt(y=waveform, sr=sr, hop_length=HOP_LENGTH)
    mode, mode_score, tonic = estimate_mode(chroma.mean(axis=1))

    return AcousticFeatures(
        duration_s=duration_s,
        rms_db=rms_db,
        spectral_centroid_hz=spectral_centroid_hz,
        onset_rate=onset_rate,
        tempo_bpm=tempo_bpm,
        mode=mode,
        mode_score=mode_score,
        tonic=tonic,
    )


def acoustic_table(waveforms: Sequence[np.ndarray], sr: int) -> dict[str, np.ndarray]:
    """Compute ``acoustic_features`` for each waveform and return one ``(N,)`` array per feature.

    Keys are the ``AcousticFeatures`` field names. Numeric features are float arrays.
    ``mode`` and ``tonic`` are string arrays.
    """
    rows = [asdict(acoustic_features(waveform, sr)) for waveform in waveforms]

    if not rows:
        raise InsufficientDataError("waveforms is empty. Pass at least one waveform")

    table: dict[str, np.ndarray] = {}
    for name in rows[0]:
        values = [row[name] for row in rows]
        if isinstance(values[0], str):
            table[name] = np.array(values, dtype=str)
        else:
            table[name] = np.array(values, dtype=np.float64)

    return table
