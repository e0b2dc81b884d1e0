"""Planted variants of the tiny model, whose correct verdict is known in advance.

- ``planted-null``: every emotion word of the default prompt set maps to one shared token, so
  prompts that differ only in their emotion words are identical inputs. Nothing downstream can
  depend on emotion. Expected verdict: no level shows emotion.
- ``planted-text-only``: each emotion's words map to one strong token per emotion, so the T5
  output differs by emotion, but the encoder-to-decoder projection is zero, so the decoder receives
  no text at all. Expected verdict: text_embedding only.
- ``planted-all``: the same per-emotion tokens, with the decoder's cross-attention output scaled
  up so the text steers generation. Expected verdict: emotion at every level.

Prompts of different emotions in one template differ only in their emotion words, and sample i
of every emotion uses the same seed, so the planted effects are the only source of a difference.
"""

from __future__ import annotations

import tomllib

import torch

from . import builtin

DEFAULT_PROMPT_FILE = builtin.FIXTURES_PROMPTS / "default.toml"

# Replacement tokens are plain words, so the word-level pre-tokenizer keeps each one whole.
SHARED_EMOTION_TOKEN = "plantedemotion"

# Norm of the planted emotion-token embeddings, relative to an ordinary word's embedding.
EMOTION_EMBEDDING_SCALE = 8.0

# Factor on each decoder layer's cross-attention output projection in planted-all.
CROSS_ATTENTION_GAIN = 6.0

EXPECTED_LEVELS = {
    "planted-null": (),
    "planted-text-only": ("text_embedding",),
    "planted-all": (
        "text_embedding", "transformer_hidden", "audio_tokens", "cross_attention", "dynamics",
        "compositional", "acoustic",
    ),
}

PLANTED_MODELS = tuple(EXPECTED_LEVELS)


def emotion_words() -> dict[str, list[str]]:
    """Read each emotion's vocabulary from the default prompt set."""
    document = tomllib.loads(DEFAULT_PROMPT_FILE.read_text(encoding="utf-8"))
    return {emotion: [word.lower() for word in table["words"]] for emotion, table in document["emotions"].items()}


def emotion_aliases(name: str) -> dict[str, str]:
    """Map each emotion word to the token that replaces it in model ``name``."""
    words = emotion_words()
    if name == "planted-null":
        return {word: SHARED_EMOTION_TOKEN for vocabulary in words.values() for word in vocabulary}
    return {word: f"planted{emotion}" for emotion, vocabulary in words.items() for word in vocabulary}


def build_planted(name: str):
    """Build planted model ``name`` and its tokenizer from the tiny architecture."""
    aliases = emotion_aliases(name)
    tokenizer = builtin.build_word_tokenizer(builtin.bundled_prompt_words(), aliases=aliases)
    model, _ = builtin.build_musicgen(builtin.TINY, tokenizer=tokenizer)

    planted_tokens = sorted(set(aliases.values()))
    plant_emotion_embeddings(model, tokenizer, planted_tokens)

    decoder_layers = model.decoder.model.decoder.layers
    with torch.no_grad():
        if name == "planted-text-only":
            model.enc_to_dec_proj.weight.zero_()
            model.enc_to_dec_proj.bias.zero_()
        elif name == "planted-all":
            for layer in decoder_layers:
                layer.encoder_attn.out_proj.weight.mul_(CROSS_ATTENTION_GAIN)
    return model, tokenizer


def plant_emotion_embeddings(model, tokenizer, tokens: list[str]) -> None:
    """Give each planted token a large embedding along its own random direction."""
    embeddings = model.text_encoder.get_input_embeddings().weight
    typical_norm = embeddings.norm(dim=-1).mean()
    generator = torch.Generator().manual_seed(builtin.TEXT_ENCODER_SEED + 1000)
    with torch.no_grad():
        for token in tokens:
            direction = torch.randn(embeddings.shape[1], generator=generator)
            index = tokenizer.convert_tokens_to_ids(token)
            embeddings[index] = direction / direction.norm() * typical_norm * EMOTION_EMBEDDING_SCALE
