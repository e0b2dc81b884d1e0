"""Model loading: built-in models, local checkpoints, offline errors and other text encoders."""

import numpy as np
import pytest
import torch
from types import SimpleNamespace

from emotion_hypotheses.capture import names
from emotion_hypotheses.capture.engine import GenerationParams, capture_texts
from emotion_hypotheses.errors import ModelLoadError, UnsupportedModelError
from emotion_hypotheses.models import builtin, load_musicgen, load_text_encoder
from emotion_hypotheses.models.loading import check_supported
from emotion_hypotheses.models.planted import EXPECTED_LEVELS, emotion_aliases


def test_builtin_text_encoder_matches_full_model(tiny):
    alone = load_text_encoder("tiny")
    inside = tiny.model.text_encoder.state_dict()
    for name, tensor in alone.model.state_dict().items():
        assert torch.equal(tensor, inside[name]), name
    assert alone.weights_origin == "random"


def test_builtin_weights_hash_is_stable(tiny):
    again = load_musicgen("tiny")
    assert again.weights_id == tiny.weights_id
    assert load_musicgen("planted-all").weights_id != tiny.weights_id


def test_revision_rejected_for_builtin():
    with pytest.raises(ModelLoadError, match="does not apply to the built-in model 'tiny'"):
        load_musicgen("tiny", revision="main")


def test_offline_missing_weights_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as error:
        load_musicgen("facebook/musicgen-small", offline=True)
    message = str(error.value)
    assert "'facebook/musicgen-small'" in message
    assert "huggingface-cli download facebook/musicgen-small" in message
    assert "--model tiny" in message


def test_offline_missing_text_encoder_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelLoadError, match="facebook/musicgen-medium"):
        load_text_encoder("facebook/musicgen-medium", revision="v1", offline=True)


def test_missing_local_directory_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_musicgen(str(tmp_path / "no-such-checkpoint"))


def test_invalid_dtype_and_device():
    with pytest.raises(ModelLoadError, match="invalid dtype 'float8'"):
        load_musicgen("tiny", dtype="float8")
    if not torch.cuda.is_available():
        with pytest.raises(ModelLoadError, match="sees no CUDA GPU"):
            load_musicgen("tiny", device="cuda")


def test_local_checkpoint_round_trip(tiny, tmp_path):
    tiny.model.save_pretrained(tmp_path)
    tiny.tokenizer.save_pretrained(tmp_path)

    loaded = load_musicgen(str(tmp_path), offline=True)
    assert loaded.weights_origin == "pretrained"
    params = GenerationParams(duration=0.2)
    from_disk = capture_texts(loaded, "happy music", seeds=7, params=params)[0]
    built = capture_texts(tiny, "happy music", seeds=7, params=params)[0]
    np.testing.assert_array_equal(from_disk.arrays[names.CODES_FRAMES], built.arrays[names.CODES_FRAMES])

    # The text level reads only the text_encoder.* tensors of the checkpoint.
    encoder = load_text_encoder(str(tmp_path), offline=True)
    encoded = encoder.encode(["happy music"]).hidden[0]
    np.testing.assert_allclose(encoded, built.arrays[names.TEXT_ENCODER_HIDDEN], atol=1e-5)


def test_stereo_and_melody_rejected():
    stereo = SimpleNamespace(model_type="musicgen", decoder=SimpleNamespace(audio_channels=2))
    with pytest.raises(UnsupportedModelError, match="stereo"):
        check_supported(stereo, "facebook/musicgen-stereo-small")
    melody = SimpleNamespace(model_type="musicgen_melody")
    with pytest.raises(UnsupportedModelError, match="chroma"):
        check_supported(melody, "facebook/musicgen-melody")


def test_minilm_encoder_real_weights():
    encoder = load_text_encoder("tiny", text_encoder="minilm", offline=True)
    pooled = encoder.encode(["happy cheerful music", "joyful upbeat music", "a diesel engine manual"]).mean_pooled()
    unit = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    assert pooled.shape == (3, 384)
    assert unit[0] @ unit[1] > unit[0] @ unit[2] + 0.1


def test_unknown_text_encoder_error(tmp_path):
    with pytest.raises(ModelLoadError, match="text encoder .* could not be loaded"):
        load_text_encoder("tiny", text_encoder=str(tmp_path / "missing"), offline=True)


def test_small_random_text_encoder_is_t5_base():
    encoder = load_text_encoder("small-random")
    config = encoder.model.config
    assert (config.d_model, config.num_layers, config.num_heads, config.vocab_size) == (768, 12, 12, 32128)
    assert encoder.encode(["happy music"]).hidden.shape[-1] == 768


def test_small_random_spec_matches_musicgen_small():
    spec = builtin.SMALL_RANDOM
    assert spec.decoder["num_hidden_layers"] == 24
    assert spec.decoder["hidden_size"] == 1024
    assert spec.decoder["num_attention_heads"] == 16
    assert (spec.decoder["num_codebooks"], spec.decoder["vocab_size"]) == (4, 2048)
    assert spec.audio_encoder["sampling_rate"] == 32000
    assert int(np.prod(spec.audio_encoder["upsampling_ratios"])) == 640


def test_planted_aliases_share_tokens():
    null = emotion_aliases("planted-null")
    assert len(set(null.values())) == 1
    planted = emotion_aliases("planted-all")
    assert planted["joyful"] == planted["happy"] != planted["sad"]
    assert set(EXPECTED_LEVELS) == set(builtin.PLANTED_NAMES)


def test_planted_null_inputs_identical():
    encoder = load_text_encoder("planted-null")
    encoded = encoder.encode(["a joyful piano piece", "a sorrowful piano piece"])
    np.testing.assert_allclose(encoded.hidden[0], encoded.hidden[1], atol=1e-5)


def test_planted_text_only_hides_text_from_decoder():
    model = load_musicgen("planted-text-only")
    params = GenerationParams(duration=0.2)
    happy, sad = capture_texts(model, ["a joyful piano piece", "a sorrowful piano piece"], seeds=[3, 3], params=params)
    assert not np.allclose(happy.arrays[names.TEXT_ENCODER_HIDDEN], sad.arrays[names.TEXT_ENCODER_HIDDEN])
    np.testing.assert_array_equal(happy.arrays[names.CODES_FRAMES], sad.arrays[names.CODES_FRAMES])
    np.testing.assert_allclose(happy.arrays[names.DECODER_RESID_POST], sad.arrays[names.DECODER_RESID_POST], atol=1e-6)


def test_model_identity_without_building(monkeypatch):
    from emotion_hypotheses.models import builtin as builtin_module
    from emotion_hypotheses.models.loading import model_identity

    def fail_if_built(*args, **kwargs):
        raise AssertionError("model_identity must not build the model")

    monkeypatch.setattr(builtin_module, "build_by_name", fail_if_built)
    tiny = model_identity("tiny")
    assert tiny == model_identity("tiny")
    assert tiny["weights_origin"] == "random"
    assert tiny["weights_id"] != model_identity("planted-all")["weights_id"]


def test_model_identity_local_checkpoint_changes(tiny, tmp_path):
    from emotion_hypotheses.models.loading import model_identity

    tiny.model.save_pretrained(tmp_path)
    first = model_identity(str(tmp_path))
    config = tmp_path / "config.json"
    config.write_text(config.read_text().replace("}", ', "note": "edited"}', 1))
    assert model_identity(str(tmp_path))["weights_id"] != first["weights_id"]


def test_model_identity_offline_error(monkeypatch, tmp_path):
    from emotion_hypotheses.models.loading import model_identity

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelLoadError, match="facebook/musicgen-large"):
        model_identity("facebook/musicgen-large", offline=True)
