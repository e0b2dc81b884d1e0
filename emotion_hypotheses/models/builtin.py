"""Built-in MusicGen models constructed in code, with no download.

- ``tiny``: a random MusicGen a few hundred kilobytes in size, for fast tests.
- ``small-random``: the facebook/musicgen-small architecture (24 decoder layers, width 1024,
  16 heads, 4 codebooks of 2048, a T5-base text encoder, 32 kHz EnCodec) with random weights,
  for benchmarks and scale checks.

Each sub-model (text encoder, EnCodec, decoder) is initialised under its own fixed seed, so
building the text encoder alone gives exactly the weights it has inside the full model.
Verdicts computed from these models describe the pipeline, not MusicGen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel
from transformers import (
    EncodecConfig,
    EncodecModel,
    GenerationConfig,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForCausalLM,
    MusicgenForConditionalGeneration,
    PreTrainedTokenizerFast,
    T5Config,
    T5EncoderModel,
)

FIXTURES_PROMPTS = Path(__file__).resolve().parents[2] / "fixtures" / "prompts"

# Seeds for the three sub-models: fixed so that a built-in model is the same on every machine
# that runs the same torch version (the weights hash in every cache key catches any drift).
TEXT_ENCODER_SEED = 1
AUDIO_ENCODER_SEED = 2
DECODER_SEED = 3

SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")

# Words the tiny tokenizer always contains, beyond those found in the bundled prompt sets.
BASE_WORDS = (
    "a", "an", "the", "and", "with", "of", "in", "for", "on", "music", "song", "track", "piece",
    "tune", "melody", "beat", "rhythm", "piano", "guitar", "strings", "synth", "orchestra",
    "drums", "band", "violin", "cello", "flute", "choir", "bass", "jazz", "rock", "pop",
    "classical", "electronic", "folk", "ambient", "slow", "fast", "loud", "soft", "quiet",
)


@dataclass(frozen=True)
class BuiltinSpec:
    """Sizes of one built-in model: everything that defines its architecture."""

    name: str
    text_encoder: dict = field(default_factory=dict)
    audio_encoder: dict = field(default_factory=dict)
    decoder: dict = field(default_factory=dict)
    uses_t5_vocabulary: bool = False


TINY = BuiltinSpec(
    name="tiny",
    # The text width differs from the decoder width, as in the real checkpoints (768 vs 1024),
    # so the tiny model has an encoder-to-decoder projection too.
    text_encoder=dict(
        d_model=24, d_kv=6, d_ff=48, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, dropout_rate=0.0,
    ),
    audio_encoder=dict(
        sampling_rate=16000, upsampling_ratios=[8, 5, 8], num_filters=4, hidden_size=16,
        codebook_size=64, codebook_dim=16, num_lstm_layers=1, target_bandwidths=[1.2],
        use_causal_conv=False, norm_type="weight_norm",
    ),
    decoder=dict(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64,
        num_codebooks=4, max_position_embeddings=1024, dropout=0.0,
        # A wider initialisation than the real 0.02, so that random text visibly steers the tiny decoder.
        initializer_factor=0.2,
    ),
)

# The facebook/musicgen-small architecture as published in its config.json on the Hugging Face hub.
SMALL_RANDOM = BuiltinSpec(
    name="small-random",
    text_encoder=dict(
        vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12,
        relative_attention_num_buckets=32, dropout_rate=0.0,
    ),
    audio_encoder=dict(
        sampling_rate=32000, upsampling_ratios=[8, 5, 4, 4], num_filters=64, hidden_size=128,
        codebook_size=2048, codebook_dim=128, num_lstm_layers=2, target_bandwidths=[2.2],
        use_causal_conv=False, norm_type="weight_norm", trim_right_ratio=1.0,
    ),
    decoder=dict(
        vocab_size=2048, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
        ffn_dim=4096, num_codebooks=4, max_position_embeddings=2048, dropout=0.0,
    ),
    uses_t5_vocabulary=True,
)

BUILTIN_SPECS = {spec.name: spec for spec in (TINY, SMALL_RANDOM)}

# Planted variants of the tiny model (see planted.py): same architecture, known expected verdicts.
PLANTED_NAMES = ("planted-null", "planted-text-only", "planted-all")


def bundled_prompt_words() -> list[str]:
    """Collect the lower-case words of every bundled prompt-set file, for the tiny vocabulary."""
    words: set[str] = set()
    for path in sorted(FIXTURES_PROMPTS.glob("*.toml")):
        words.update(re.findall(r"[a-z]+", path.read_text(encoding="utf-8").lower()))
    return sorted(words)


def build_word_tokenizer(words: list[str], aliases: dict[str, str] | None = None) -> PreTrainedTokenizerFast:
    """Build a word-level tokenizer that lower-cases, splits on words and punctuation, and appends </s>.

    Unknown words map to <unk>. ``aliases`` maps words to a shared token, so that several words
    get one id (the planted models use this). Offsets are available, so emotion-word spans map to
    token indices the same way as with the real T5 tokenizer.
    """
    aliases = aliases or {}
    vocabulary = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    for word in sorted(set(BASE_WORDS) | set(words) | set(aliases.values())):
        vocabulary.setdefault(word, len(vocabulary))

    backend = Tokenizer(WordLevel(vocabulary, unk_token="<unk>"))
    steps = [normalizers.Lowercase()]
    for token in sorted(set(aliases.values())):
        group = "|".join(re.escape(word) for word, target in sorted(aliases.items()) if target == token)
        steps.append(normalizers.Replace(Regex(rf"\b(?:{group})\b"), token))
    backend.normalizer = normalizers.Sequence(steps)
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocabulary["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
        model_max_length=512,
    )


def build_t5_vocabulary_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """Build a word-level tokenizer whose ids fit T5's 32128-entry vocabulary.

    The real T5 SentencePiece model is not available offline, so small-random uses the tiny word
    vocabulary inside T5's id range: sequence lengths are close to T5's for short English prompts.
    """
    tokenizer = build_word_tokenizer(bundled_prompt_words())
    if len(tokenizer) > vocab_size:
        raise ValueError(f"word vocabulary of {len(tokenizer)} exceeds the text encoder's {vocab_size}")
    return tokenizer


def build_tokenizer(spec: BuiltinSpec) -> PreTrainedTokenizerFast:
    """Return the tokenizer of a built-in model."""
    if spec.uses_t5_vocabulary:
        return build_t5_vocabulary_tokenizer(spec.text_encoder["vocab_size"])
    return build_word_tokenizer(bundled_prompt_words())


def text_encoder_config(spec: BuiltinSpec, tokenizer: PreTrainedTokenizerFast) -> T5Config:
    """Return the T5 encoder configuration of a built-in model."""
    options = dict(spec.text_encoder)
    options.setdefault("vocab_size", len(tokenizer))
    return T5Config(pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, **options)


def build_text_encoder(spec: BuiltinSpec, tokenizer: PreTrainedTokenizerFast) -> T5EncoderModel:
    """Build the random T5 encoder of a built-in model under its fixed seed."""
    torch.manual_seed(TEXT_ENCODER_SEED)
    return T5EncoderModel(text_encoder_config(spec, tokenizer)).eval()


def build_audio_encoder(spec: BuiltinSpec) -> EncodecModel:
    """Build the random EnCodec model of a built-in model under its fixed seed."""
    torch.manual_seed(AUDIO_ENCODER_SEED)
    model = EncodecModel(EncodecConfig(audio_channels=1, **spec.audio_encoder)).eval()

    # transformers initialises EnCodec codebooks to zeros (trained checkpoints overwrite them), so
    # a random EnCodec would decode every code sequence to the same waveform. Random unit-variance
    # code vectors make the audio depend on the codes, as it does with real weights.
    with torch.no_grad():
        for layer in model.quantizer.layers:
            layer.codebook.embed.normal_()
            layer.codebook.embed_avg.copy_(layer.codebook.embed)
    return model


def build_decoder(spec: BuiltinSpec, text_hidden_size: int) -> MusicgenForCausalLM:
    """Build the random MusicGen decoder (with its LM heads) under its fixed seed."""
    vocab_size = spec.decoder["vocab_size"]
    config = MusicgenDecoderConfig(
        pad_token_id=vocab_size, bos_token_id=vocab_size, audio_channels=1, **spec.decoder
    )
    torch.manual_seed(DECODER_SEED)
    return MusicgenForCausalLM(config).eval()


def build_musicgen(
    spec: BuiltinSpec, tokenizer: PreTrainedTokenizerFast | None = None
) -> tuple[MusicgenForConditionalGeneration, PreTrainedTokenizerFast]:
    """Build a complete built-in MusicGen and its tokenizer, with generation defaults like the real ones."""
    tokenizer = tokenizer or build_tokenizer(spec)
    text_encoder = build_text_encoder(spec, tokenizer)
    audio_encoder = build_audio_encoder(spec)
    decoder = build_decoder(spec, text_encoder.config.d_model)

    config = MusicgenConfig(
        text_encoder=text_encoder.config.to_dict(),
        audio_encoder=audio_encoder.config.to_dict(),
        decoder=decoder.config.to_dict(),
    )

    # The enc_to_dec projection is created by the wrapper; seed it too so it is reproducible.
    torch.manual_seed(DECODER_SEED + 100)
    model = MusicgenForConditionalGeneration(
        config=config, text_encoder=text_encoder, audio_encoder=audio_encoder, decoder=decoder
    ).eval()

    vocab_size = spec.decoder["vocab_size"]
    model.generation_config = GenerationConfig(
        do_sample=True, top_k=250, guidance_scale=3.0, max_length=1500,
        pad_token_id=vocab_size, bos_token_id=vocab_size, decoder_start_token_id=vocab_size,
    )
    return model, tokenizer


def build_by_name(name: str) -> tuple[MusicgenForConditionalGeneration, PreTrainedTokenizerFast]:
    """Build the built-in model called ``name``."""
    if name in PLANTED_NAMES:
        from .planted import build_planted

        return build_planted(name)
    return build_musicgen(BUILTIN_SPECS[name])


def is_builtin_name(name: str) -> bool:
    """Return whether ``name`` is a model constructed in code."""
    return name in BUILTIN_SPECS or name in PLANTED_NAMES
