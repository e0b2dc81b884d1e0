"""Tests for emotion_hypotheses.analysis.acoustic on synthesized signals with known properties."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from emotion_hypotheses.analysis.acoustic import (
    MAJOR_PROFILE,
    MINOR_PROFILE,
    acoustic_features,
    acoustic_table,
    estimate_mode,
)
from emotion_hypotheses.errors import InsufficientDataError

SR = 32000

# Installed by Debian's fluid-soundfont-gm package.
GM_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def sine(frequency_hz, duration_s, amplitude=0.5):
    times = np.arange(int(duration_s * SR)) / SR
    return amplitude * np.sin(2 * np.pi * frequency_hz * times)


def click_train(rate_hz, duration_s, start_s=0.25):
    """Return single-sample clicks every 1 / rate_hz seconds, starting at start_s."""
    waveform = np.zeros(int(duration_s * SR))
    click_times = np.arange(start_s, duration_s, 1.0 / rate_hz)
    waveform[(click_times * SR).astype(int)] = 0.9
    return waveform


def note(midi, duration_s):
    """Return a tone with three harmonics and short fades, so that each note has a clear onset."""
    frequency_hz = 440.0 * 2 ** ((midi - 69) / 12)
    times = np.arange(int(duration_s * SR)) / SR
    envelope = np.minimum(1.0, np.minimum(times / 0.01, (duration_s - times) / 0.05))
    harmonics = sum(0.5 / k * np.sin(2 * np.pi * k * frequency_hz * times) for k in (1, 2, 3))
    return envelope * harmonics


def arpeggio(midis, note_s=0.25, repeats=4):
    return np.concatenate([note(midi, note_s) for _ in range(repeats) for midi in midis])


@pytest.fixture(scope="module")
def triad_features():
    """Features of C major (C E G) and C minor (C Eb G) triad arpeggios, 3 s each."""
    return {
        "major": acoustic_features(arpeggio([60, 64, 67]), SR),
        "minor": acoustic_features(arpeggio([60, 63, 67]), SR),
    }


def test_sine_centroid_near_frequency():
    features = acoustic_features(sine(440.0, 1.0), SR)

    assert features.spectral_centroid_hz == pytest.approx(440.0, rel=0.05)
    assert features.duration_s == pytest.approx(1.0)


def test_louder_sine_higher_rms():
    quiet = acoustic_features(sine(440.0, 1.0, amplitude=0.05), SR)
    loud = acoustic_features(sine(440.0, 1.0, amplitude=0.5), SR)

    # Ten times the amplitude is 20 dB.
    assert loud.rms_db - quiet.rms_db == pytest.approx(20.0, abs=0.5)


def test_full_scale_sine_rms_level():
    # A sine of amplitude 1 has RMS 1 / sqrt(2), which is -3.01 dBFS. Edge frames are padded, so allow 1 dB.
    features = acoustic_features(sine(440.0, 2.0, amplitude=1.0), SR)

    assert features.rms_db == pytest.approx(-3.01, abs=1.0)


def test_click_rate_doubles_onset_rate():
    slow = acoustic_features(click_train(2.0, 8.0), SR)
    fast = acoustic_features(click_train(4.0, 8.0), SR)

    assert slow.onset_rate == pytest.approx(2.0, rel=0.1)
    assert fast.onset_rate / slow.onset_rate == pytest.approx(2.0, rel=0.1)


@pytest.mark.parametrize(("rate_hz", "expected_bpm"), [(1.5, 90.0), (2.5, 150.0)])
def test_click_train_tempo(rate_hz, expected_bpm):
    features = acoustic_features(click_train(rate_hz, 8.0), SR)

    assert features.tempo_bpm == pytest.approx(expected_bpm, rel=0.05)


def test_major_triad_reads_major(triad_features):
    features = triad_features["major"]

    assert features.mode == "major"
    assert features.mode_score > 0
    assert features.tonic == "C"


def test_minor_triad_reads_minor(triad_features):
    features = triad_features["minor"]

    assert features.mode == "minor"
    assert features.mode_score < 0
    assert features.tonic == "C"


def test_major_score_above_minor(triad_features):
    assert triad_features["major"].mode_score > triad_features["minor"].mode_score + 0.1


@pytest.mark.parametrize("tonic", range(12))
def test_profile_chroma_recovers_key(tonic):
    major = estimate_mode(np.roll(MAJOR_PROFILE, tonic))
    minor = estimate_mode(np.roll(MINOR_PROFILE, tonic))

    assert major[0] == "major"
    assert minor[0] == "minor"
    assert major[2] == minor[2]
    assert major[2] == ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"][tonic]


def test_flat_chroma_undetermined():
    mode, score, tonic = estimate_mode(np.ones(12))

    assert mode == "undetermined"
    assert np.isnan(score)
    assert tonic == ""


def test_silence_defined_values():
    features = acoustic_features(np.zeros(SR), SR)

    assert features.rms_db == pytest.approx(-100.0)
    assert features.onset_rate == 0.0
    assert np.isnan(features.spectral_centroid_hz)
    assert np.isnan(features.tempo_bpm)
    assert features.mode == "undetermined"


def test_half_second_computes():
    features = acoustic_features(sine(440.0, 0.5), SR)

    assert np.isfinite(features.rms_db)
    assert features.spectral_centroid_hz == pytest.approx(440.0, rel=0.1)
    assert np.isnan(features.tempo_bpm)


def test_shorter_than_frame_raises():
    with pytest.raises(InsufficientDataError, match=r"1000 samples.*Generate longer audio"):
        acoustic_features(np.ones(1000) * 0.1, SR)


def test_stereo_raises():
    with pytest.raises(ValueError, match="mono"):
        acoustic_features(np.zeros((2, SR)), SR)


def test_nan_samples_raise():
    waveform = sine(440.0, 1.0)
    waveform[10] = np.nan

    with pytest.raises(ValueError, match="NaN"):
        acoustic_features(waveform, SR)


def test_table_columns_per_waveform():
    table = acoustic_table([sine(440.0, 1.0), np.zeros(SR)], SR)

    assert set(table) == {
        "duration_s",
        "rms_db",
        "spectral_centroid_hz",
        "onset_rate",
        "tempo_bpm",
        "mode",
        "mode_score",
        "tonic",
    }
    assert table["rms_db"].shape == (2,)
    assert table["rms_db"].dtype == np.float64
    assert table["mode"][1] == "undetermined"
    assert table["rms_db"][0] > table["rms_db"][1]


def test_table_empty_raises():
    with pytest.raises(InsufficientDataError, match="empty"):
        acoustic_table([], SR)


def render_corpus_score(score_name, directory):
    """Render a music21 corpus score to a mono waveform at SR with fluidsynth and the GM soundfont."""
    music21_corpus = pytest.importorskip("music21.corpus", reason="music21 is not installed (pip install music21)")

    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth is not installed (apt-get install fluidsynth)")
    if not GM_SOUNDFONT.is_file():
        pytest.skip(f"{GM_SOUNDFONT} not found (apt-get install fluid-soundfont-gm)")

    midi_path = directory / "score.mid"
    wav_path = directory / "score.wav"
    music21_corpus.parse(score_name).write("midi", fp=str(midi_path))

    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(SR), "-F", str(wav_path), str(GM_SOUNDFONT), str(midi_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )

    waveform, sample_rate = soundfile.read(wav_path)
    assert sample_rate == SR
    if waveform.ndim == 2:
        waveform = waveform.mean(axis=1)

    return waveform


# music21 analyzes bwv253 as A major and bwv84.5 as B minor.
@pytest.mark.parametrize(
    ("score_name", "expected_mode", "expected_tonic"),
    [("bach/bwv253", "major", "A"), ("bach/bwv84.5", "minor", "B")],
)
def test_rendered_chorale_mode(tmp_path, score_name, expected_mode, expected_tonic):
    waveform = render_corpus_score(score_name, tmp_path)

    features = acoustic_features(waveform, SR)

    assert features.mode == expected_mode
    assert features.tonic == expected_tonic
    assert np.isfinite(features.tempo_bpm)
