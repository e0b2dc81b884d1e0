"""Capture engine: names and shapes, guidance halves, codes, attention weights and hook hygiene."""

import numpy as np
import pytest
import torch

from emotion_hypotheses.capture import names
from emotion_hypotheses.capture.codes import dedelay, delay, frame_count
from emotion_hypotheses.capture.engine import (
    CaptureRequest, CaptureSpec, GenerationParams, SeededSampler, capture_batch, capture_texts, greedy_config,
)

SHORT = GenerationParams(duration=0.2)


def hook_count(model) -> int:
    return sum(
        len(module._forward_hooks) + len(module._forward_pre_hooks) for module in model.modules()
    )


def test_capture_names_and_shapes(tiny):
    request = CaptureRequest("happy cheerful music", seed=3, emotion_word_spans=((0, 5), (6, 14)))
    capture = capture_batch(tiny, [request], SHORT)[0]
    arrays = capture.arrays

    layers, heads = tiny.num_layers, tiny.num_heads
    width = tiny.model.decoder.config.hidden_size
    steps = capture.meta["steps"]
    tokens = len(arrays[names.TEXT_TOKEN_IDS])
    assert steps == SHORT.frames(tiny.frame_rate) + tiny.num_codebooks - 1
    assert arrays[names.TEXT_ENCODER_HIDDEN].shape == (tokens, tiny.model.text_encoder.config.d_model)
    assert arrays[names.TEXT_DECODER_CONTEXT].shape == (tokens, width)
    assert arrays[names.DECODER_RESID_POST].shape == (layers, steps, width)
    assert arrays[names.DECODER_CROSS_ATTENTION].shape == (layers, heads, steps, tokens)
    assert arrays[names.CODES_STEPS].shape == (tiny.num_codebooks, steps)
    assert arrays[names.CODES_FRAMES].shape == (tiny.num_codebooks, frame_count(steps, tiny.num_codebooks))
    assert arrays[names.AUDIO_WAVEFORM].ndim == 1
    assert arrays[names.TEXT_EMOTION_WORD_MASK].tolist()[:2] == [True, True]
    assert arrays[names.TEXT_EMOTION_WORD_MASK].tolist()[2:] == [False] * (tokens - 2)
    assert set(names.DESCRIPTIONS) <= set(arrays)
    assert capture.meta["cfg_half"] == "conditional"
    assert capture.files[names.AUDIO_FILE][:4] == b"RIFF"


def test_attention_rows_sum_to_one(tiny):
    capture = capture_texts(tiny, "sad melancholic music", seeds=1, params=SHORT)[0]
    attention = capture.arrays[names.DECODER_CROSS_ATTENTION]
    assert np.all(np.isfinite(attention))
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-5)


def test_string_prompt_is_one_prompt(tiny):
    captures = capture_texts(tiny, "happy music", seeds=0, params=SHORT)
    assert len(captures) == 1
    assert captures[0].meta["text"] == "happy music"
    assert captures[0].meta["batch_size"] == 1


def test_capture_batch_rejects_bare_request(tiny):
    with pytest.raises(TypeError, match="sequence of CaptureRequest"):
        capture_batch(tiny, CaptureRequest("happy music", 0), SHORT)


def test_guidance_halves_are_labelled(tiny):
    spec = CaptureSpec(halves="both")
    capture = capture_batch(tiny, [CaptureRequest("calm peaceful music", 5)], SHORT, spec)[0]
    conditional = capture.arrays[names.DECODER_RESID_POST]
    unconditional = capture.arrays[names.unconditional(names.DECODER_RESID_POST)]
    assert capture.meta["cfg_half"] == "both"
    assert conditional.shape == unconditional.shape
    assert not np.allclose(conditional, unconditional)

    # The null rows see no text: every text token is masked, so attention is uniform over them.
    null_context = capture.arrays[names.unconditional(names.TEXT_DECODER_CONTEXT)]
    assert null_context.shape == capture.arrays[names.TEXT_DECODER_CONTEXT].shape
    assert np.all(null_context == 0)
    null_attention = capture.arrays[names.unconditional(names.DECODER_CROSS_ATTENTION)]
    tokens = null_attention.shape[-1]
    np.testing.assert_allclose(null_attention, 1.0 / tokens, atol=1e-6)


def test_conditional_half_is_the_default(tiny):
    default = capture_batch(tiny, [CaptureRequest("calm peaceful music", 5)], SHORT)[0]
    both = capture_batch(tiny, [CaptureRequest("calm peaceful music", 5)], SHORT, CaptureSpec(halves="both"))[0]
    np.testing.assert_allclose(
        default.arrays[names.DECODER_RESID_POST], both.arrays[names.DECODER_RESID_POST], atol=1e-6
    )
    assert names.unconditional(names.DECODER_RESID_POST) not in default.arrays


def test_no_guidance_has_single_half(tiny):
    params = GenerationParams(duration=0.2, guidance_scale=1.0)
    capture = capture_batch(tiny, [CaptureRequest("happy music", 1)], params, CaptureSpec(halves="both"))[0]
    assert capture.meta["cfg_half"] == "conditional"
    assert names.unconditional(names.DECODER_RESID_POST) not in capture.arrays


def test_steps_give_frames_after_delay(tiny):
    capture = capture_texts(tiny, "energetic music", seeds=2, params=GenerationParams(duration=0.3))[0]
    steps = capture.arrays[names.CODES_STEPS]
    frames = capture.arrays[names.CODES_FRAMES]
    num_codebooks = tiny.num_codebooks
    assert frames.shape[1] == steps.shape[1] + 1 - num_codebooks
    assert capture.meta["frames"] == frames.shape[1]

    # The delay pattern masks the first k steps and the last K-1-k steps of codebook k.
    pad = tiny.pad_token_id
    for k in range(num_codebooks):
        assert np.all(steps[k, :k] == pad)
        assert np.all(steps[k, steps.shape[1] - (num_codebooks - 1 - k):] == pad)
    assert np.all(frames < tiny.vocab_size)
    np.testing.assert_array_equal(delay(frames, pad), steps)


def test_dedelayed_codes_decode_to_waveform(tiny):
    capture = capture_texts(tiny, "happy music", seeds=4, params=GenerationParams(duration=0.3))[0]
    frames = torch.tensor(capture.arrays[names.CODES_FRAMES])[None, None]
    with torch.no_grad():
        audio = tiny.model.audio_encoder.decode(frames, audio_scales=[None]).audio_values[0, 0].numpy()
    np.testing.assert_allclose(audio, capture.arrays[names.AUDIO_WAVEFORM], atol=1e-5)


def test_sdpa_attention_equals_eager(tiny, tiny_eager):
    request = [CaptureRequest("sad melancholic sorrowful music", 9), CaptureRequest("happy music", 10)]
    sdpa = capture_batch(tiny, request, SHORT)
    eager = capture_batch(tiny_eager, request, SHORT)
    for from_sdpa, from_eager in zip(sdpa, eager):
        np.testing.assert_allclose(
            from_sdpa.arrays[names.DECODER_CROSS_ATTENTION], from_eager.arrays[names.DECODER_CROSS_ATTENTION],
            atol=1e-5,
        )
        np.testing.assert_array_equal(from_sdpa.arrays[names.CODES_FRAMES], from_eager.arrays[names.CODES_FRAMES])


def test_recomputed_attention_matches_eager_module_output(tiny_eager):
    # Eager attention returns its weights; compare them with the capture's recomputation.
    seen = []
    layer = tiny_eager.model.decoder.model.decoder.layers[1].encoder_attn
    handle = layer.register_forward_hook(lambda module, args, output: seen.append(output[1][:1].detach().clone()))
    try:
        capture = capture_texts(tiny_eager, "calm peaceful relaxing music", seeds=6, params=SHORT)[0]
    finally:
        handle.remove()
    steps = capture.meta["steps"]
    eager = torch.cat(seen[-steps:], dim=2)[0].numpy()
    np.testing.assert_allclose(capture.arrays[names.DECODER_CROSS_ATTENTION][1], eager, atol=1e-5)


def test_batched_equals_alone(tiny):
    requests = [
        CaptureRequest("happy music", 1, ((0, 5),)),
        CaptureRequest("sad melancholic sorrowful piano music", 2, ((0, 3),)),
        CaptureRequest("calm music", 3, ((0, 4),)),
    ]
    batched = capture_batch(tiny, requests, SHORT)
    for request, together in zip(requests, batched):
        alone = capture_batch(tiny, [request], SHORT)[0]
        assert set(alone.arrays) == set(together.arrays)
        for name, array in alone.arrays.items():
            assert array.shape == together.arrays[name].shape, name
            np.testing.assert_allclose(array.astype(float), together.arrays[name].astype(float), atol=1e-4, err_msg=name)


def test_seed_changes_codes(tiny):
    first, second = capture_texts(tiny, ["happy music", "happy music"], seeds=[0, 1], params=SHORT)
    assert not np.array_equal(first.arrays[names.CODES_FRAMES], second.arrays[names.CODES_FRAMES])


def test_capture_does_not_change_generation(tiny):
    # Generate the same request without any hook: the waveform must equal the captured one.
    request = CaptureRequest("energetic intense powerful music", 11)
    captured = capture_batch(tiny, [request], SHORT)[0]

    encoded = tiny.tokenizer([request.text], padding=True, return_tensors="pt")
    steps = captured.meta["steps"]
    sampler = SeededSampler([request.seed], tiny.num_codebooks, guidance_scale=SHORT.guidance_scale,
                            top_k=SHORT.top_k, temperature=SHORT.temperature, device=tiny.device)
    hooks_before = hook_count(tiny.model)
    with torch.inference_mode():
        plain = tiny.model.generate(**encoded, generation_config=greedy_config(tiny.model.generation_config, SHORT, steps),
                                    logits_processor=[sampler])
    assert hook_count(tiny.model) == hooks_before
    np.testing.assert_allclose(plain[0, 0].numpy(), captured.arrays[names.AUDIO_WAVEFORM], atol=1e-6)


def test_hooks_removed_when_generation_raises(tiny, monkeypatch):
    before = hook_count(tiny.model)

    def explode(*args, **kwargs):
        assert hook_count(tiny.model) > before
        raise RuntimeError("generation failed")

    monkeypatch.setattr(tiny.model, "generate", explode)
    with pytest.raises(RuntimeError, match="generation failed"):
        capture_texts(tiny, "happy music", params=SHORT)
    assert hook_count(tiny.model) == before


def test_layer_subset_and_stride(tiny):
    spec = CaptureSpec(layers=(1,), step_stride=2)
    capture = capture_texts(tiny, "happy music", params=SHORT, spec=spec)[0]
    steps = capture.meta["steps"]
    assert capture.arrays[names.DECODER_RESID_POST].shape[:2] == (1, (steps + 1) // 2)
    assert capture.arrays[names.DECODER_CROSS_ATTENTION].shape[:3] == (1, tiny.num_heads, (steps + 1) // 2)


def test_invalid_generation_params():
    with pytest.raises(ValueError, match="duration"):
        GenerationParams(duration=0)
    with pytest.raises(ValueError, match="guidance"):
        GenerationParams(guidance_scale=0.5)
    with pytest.raises(ValueError, match="halves"):
        CaptureSpec(halves="unconditional")


def test_dedelay_rejects_too_few_steps():
    with pytest.raises(ValueError, match="no complete frame"):
        dedelay(np.zeros((4, 3), dtype=int))


@pytest.mark.parametrize("num_codebooks", [1, 2, 4, 8])
def test_delay_round_trip_property(num_codebooks):
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    @settings(max_examples=40, deadline=None)
    @given(arrays(np.int64, st.tuples(st.just(num_codebooks), st.integers(1, 30)), elements=st.integers(0, 2047)))
    def round_trip(frames):
        grid = delay(frames, pad_id=2048)
        assert grid.shape[1] == frames.shape[1] + num_codebooks - 1
        np.testing.assert_array_equal(dedelay(grid), frames)

    round_trip()


def test_five_seconds_is_250_frames():
    params = GenerationParams(duration=5.0)
    frames = params.frames(frame_rate=50)
    assert frames == 250
    assert frame_count(250 + 4 - 1, 4) == frames


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_reduced_precision_capture(dtype):
    from emotion_hypotheses.models import load_musicgen

    model = load_musicgen("tiny", dtype=dtype)
    capture = capture_texts(model, ["happy music", "sad music"], seeds=[0, 1], params=SHORT)[0]
    assert capture.meta["dtype"] == dtype
    for name in (names.DECODER_RESID_POST, names.DECODER_CROSS_ATTENTION, names.AUDIO_WAVEFORM):
        assert capture.arrays[name].dtype == np.float32
        assert np.all(np.isfinite(capture.arrays[name]))
    np.testing.assert_allclose(capture.arrays[names.DECODER_CROSS_ATTENTION].sum(axis=-1), 1.0, atol=1e-3)
