"""Stable names of the capture points, with their shapes and meaning.

Every capture of one (prompt, seed) sample maps these names to arrays. Shapes use
T = real text tokens (padding removed), L = decoder layers, S = generation steps,
H = attention heads, D = width, K = codebooks, F = frames, n = audio samples.
Arrays hold the conditional half of the classifier-free-guidance batch; the same
names with the ``uncond.`` prefix hold the unconditional half when it is requested.
"""

TEXT_TOKEN_IDS = "text.token_ids"
TEXT_ATTENTION_MASK = "text.attention_mask"
TEXT_ENCODER_HIDDEN = "text.encoder_hidden"
TEXT_DECODER_CONTEXT = "text.decoder_context"
TEXT_EMOTION_WORD_MASK = "text.emotion_word_mask"
DECODER_RESID_POST = "decoder.resid_post"
DECODER_CROSS_ATTENTION = "decoder.cross_attention"
CODES_STEPS = "codes.steps"
CODES_FRAMES = "codes.frames"
AUDIO_WAVEFORM = "audio.waveform"

UNCONDITIONAL_PREFIX = "uncond."

AUDIO_FILE = "audio.wav"

DESCRIPTIONS = {
    TEXT_TOKEN_IDS: "(T,) int: token ids of the prompt, padding removed",
    TEXT_ATTENTION_MASK: "(T,) int: the text attention mask (all ones once padding is removed)",
    TEXT_ENCODER_HIDDEN: "(T, D_text): the T5 encoder's last hidden state per token",
    TEXT_DECODER_CONTEXT: (
        "(T, D): what the decoder's cross-attention reads, after the encoder-to-decoder "
        "projection and the attention mask"
    ),
    TEXT_EMOTION_WORD_MASK: "(T,) bool: tokens that overlap a marked emotion word of the prompt",
    DECODER_RESID_POST: "(L, S, D): the decoder residual stream after each layer at each step",
    DECODER_CROSS_ATTENTION: "(L, H, S, T): cross-attention weights from each step to the text tokens",
    CODES_STEPS: (
        "(K, S) int: the token each codebook emitted at each step; the pad id fills the "
        "positions that the delay pattern masks"
    ),
    CODES_FRAMES: "(K, F) int: the codes de-delayed into audio frames, F = S + 1 - K",
    AUDIO_WAVEFORM: "(n,) float32: the decoded waveform, mono, at the model's sample rate",
}

# Arrays that are stored at full precision whatever the store's float dtype.
FULL_PRECISION = (AUDIO_WAVEFORM,)


def unconditional(name: str) -> str:
    """Return the name that contains the unconditional half of ``name``."""
    return UNCONDITIONAL_PREFIX + name
