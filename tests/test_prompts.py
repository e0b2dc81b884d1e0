"""Tests for prompt sets: the default set, bracket parsing, sample plans and validation errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emotion_hypotheses.errors import PromptSetError
from emotion_hypotheses.prompts import (
    DEFAULT_PROMPT_SET,
    EmotionWord,
    Prompt,
    Sample,
    available_prompt_sets,
    load_prompt_set,
    parse_marked_text,
    resolve_prompt_set,
)

NOTE_PROMPTS = {
    "happy": {"happy music", "happy cheerful upbeat music"},
    "sad": {"sad music", "sad melancholic sorrowful music"},
    "calm": {"calm music", "calm peaceful relaxing music"},
    "energetic": {"energetic music", "energetic intense powerful music"},
}

EMOTIONS_TOML = """
[emotions.happy]
words = ["happy", "joyful"]

[emotions.sad]
words = ["sad", "gloomy"]
"""

PROMPTS_TOML = """
[[prompts]]
emotion = "happy"
text = "[happy] music"
template = "bare"

[[prompts]]
emotion = "sad"
text = "[sad] music"
template = "bare"
"""


def write_set(tmp_path: Path, body: str, name: str = "bad_set.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def prompt_table(emotion: str, text: str, template: str = "bare", extra: str = "") -> str:
    return f'\n[[prompts]]\nemotion = "{emotion}"\ntext = "{text}"\ntemplate = "{template}"\n{extra}\n'


def load_error(path: Path) -> str:
    with pytest.raises(PromptSetError) as caught:
        load_prompt_set(path)

    return str(caught.value)


def frame_of(prompt: Prompt) -> str:
    """Return the prompt text with each emotion word replaced by a placeholder."""
    pieces = []
    cursor = 0
    for emotion_word in prompt.emotion_words:
        pieces.append(prompt.text[cursor : emotion_word.start])
        pieces.append("{}")
        cursor = emotion_word.end

    pieces.append(prompt.text[cursor:])
    return "".join(pieces)


# The default prompt set


@pytest.fixture(scope="module")
def default_set():
    return load_prompt_set(DEFAULT_PROMPT_SET)


def test_default_set_loads(default_set):
    assert default_set.name == "default"
    assert default_set.path == DEFAULT_PROMPT_SET
    assert default_set.emotions == ("happy", "sad", "calm", "energetic")


def test_default_set_has_note_prompts(default_set):
    for emotion, expected in NOTE_PROMPTS.items():
        note_texts = {prompt.text for prompt in default_set.by_emotion(emotion) if prompt.source == "note"}
        assert note_texts == expected, emotion


def test_default_set_prompt_counts(default_set):
    for emotion in default_set.emotions:
        texts = [prompt.text for prompt in default_set.by_emotion(emotion)]
        assert len(texts) >= 20, emotion
        assert len(set(texts)) == len(texts), emotion


def test_default_set_templates_shared(default_set):
    shared = [
        template
        for template in default_set.templates
        if {prompt.emotion for prompt in default_set.prompts if prompt.template == template}
        == set(default_set.emotions)
    ]

    assert len(shared) >= 8
    assert shared == list(default_set.templates)


def test_default_set_templates_parallel(default_set):
    frames: dict[str, set[str]] = {}
    for prompt in default_set.prompts:
        frames.setdefault(prompt.template, set()).add(frame_of(prompt))

    for template, template_frames in frames.items():
        assert len(template_frames) == 1, (template, template_frames)


def test_default_set_paraphrase_sources(default_set):
    sources = {prompt.source for prompt in default_set.prompts}
    paraphrase_templates = {prompt.template for prompt in default_set.prompts if prompt.source == "paraphrase"}

    assert sources == {"note", "paraphrase"}
    assert len(paraphrase_templates) >= 8


def test_default_set_synonyms_spread(default_set):
    for emotion in default_set.emotions:
        assert len(default_set.words[emotion]) >= 6, emotion

        templates_by_word: dict[str, set[str]] = {}
        for prompt in default_set.by_emotion(emotion):
            for emotion_word in prompt.emotion_words:
                templates_by_word.setdefault(emotion_word.word, set()).add(prompt.template)

        assert len(templates_by_word) >= 6, emotion
        for word, templates in templates_by_word.items():
            assert len(templates) >= 2, (emotion, word)


def test_resolve_prompt_set_by_name():
    assert resolve_prompt_set("default") == DEFAULT_PROMPT_SET
    assert "default" in available_prompt_sets()


def test_resolve_prompt_set_by_path(tmp_path):
    path = write_set(tmp_path, EMOTIONS_TOML + PROMPTS_TOML, name="mine.toml")

    assert resolve_prompt_set(path) == path
    assert resolve_prompt_set(str(path)) == path
    assert load_prompt_set(resolve_prompt_set(str(path))).name == "mine"


def test_resolve_prompt_set_unknown_name():
    with pytest.raises(PromptSetError) as caught:
        resolve_prompt_set("no_such_set")

    message = str(caught.value)
    assert "'no_such_set'" in message
    assert "default" in message


def test_resolve_prompt_set_missing_path(tmp_path):
    missing = tmp_path / "absent.toml"

    with pytest.raises(PromptSetError) as caught:
        resolve_prompt_set(str(missing))

    assert str(missing) in str(caught.value)
    assert "not found" in str(caught.value)


# Bracket parsing


def test_parse_single_word_span():
    text, words = parse_marked_text("a [joyful] piano piece")

    assert text == "a joyful piano piece"
    assert words == (EmotionWord("joyful", 2, 8),)


def test_parse_multiple_words_spans():
    text, words = parse_marked_text("[happy] [cheerful] [upbeat] music")

    assert text == "happy cheerful upbeat music"
    assert [word.word for word in words] == ["happy", "cheerful", "upbeat"]
    for word in words:
        assert text[word.start : word.end] == word.word


def test_parse_phrase_and_punctuation():
    text, words = parse_marked_text("music for strings, [full of life] and [bright]!")

    assert text == "music for strings, full of life and bright!"
    assert [text[word.start : word.end] for word in words] == ["full of life", "bright"]


def test_parse_text_without_brackets():
    assert parse_marked_text("plain music") == ("plain music", ())


@pytest.mark.parametrize(
    ("marked", "expected"),
    [
        ("[happy music", "'[' at character 0"),
        ("happy] music", "']' at character 5"),
        ("[[happy]] music", "nested bracket"),
        ("[ha[ppy]] music", "'[' at character 3"),
        ("[] music", "empty marked word"),
        ("[ happy] music", "whitespace"),
    ],
)
def test_parse_rejects_bad_markup(marked, expected):
    with pytest.raises(PromptSetError) as caught:
        parse_marked_text(marked)

    assert expected in str(caught.value)
    assert repr(marked) in str(caught.value)


filler = st.text(alphabet=st.characters(exclude_characters="[]", exclude_categories=("Cs",)), max_size=8)
marked_word = st.text(
    alphabet=st.characters(exclude_characters="[]", exclude_categories=("Cs", "Zs", "Cc", "Zl", "Zp")),
    min_size=1,
    max_size=10,
)


@given(words=st.lists(marked_word, min_size=1, max_size=5), fillers=st.lists(filler, min_size=6, max_size=6))
def test_marked_text_round_trip(words, fillers):
    marked = "".join(f"{fillers[index]}[{word}]" for index, word in enumerate(words)) + fillers[-1]

    text, emotion_words = parse_marked_text(marked)
    prompt = Prompt(emotion="happy", text=text, template="t", emotion_words=emotion_words, source="note")

    assert prompt.marked_text == marked
    assert [emotion_word.word for emotion_word in emotion_words] == words
    for emotion_word in emotion_words:
        assert text[emotion_word.start : emotion_word.end] == emotion_word.word
    assert text == marked.replace("[", "").replace("]", "")


# Sample plans


def small_set(tmp_path: Path):
    body = EMOTIONS_TOML
    body += prompt_table("happy", "[happy] music", "bare")
    body += prompt_table("happy", "[joyful] piano", "piano")
    body += prompt_table("happy", "[happy] guitar", "guitar")
    body += prompt_table("sad", "[sad] music", "bare")
    body += prompt_table("sad", "[gloomy] piano", "piano")
    return load_prompt_set(write_set(tmp_path, body, name="small.toml"))


def test_sample_plan_counts(tmp_path):
    prompt_set = small_set(tmp_path)

    plan = prompt_set.sample_plan(samples_per_emotion=7, base_seed=100)

    assert len(plan) == 14
    assert [sample.emotion for sample in plan] == ["happy"] * 7 + ["sad"] * 7
    assert [sample.index for sample in plan] == list(range(7)) * 2
    assert all(isinstance(sample, Sample) for sample in plan)


def test_sample_plan_seeds_cycle_prompts(tmp_path):
    prompt_set = small_set(tmp_path)

    plan = prompt_set.sample_plan(samples_per_emotion=7, base_seed=100, emotions=["sad"])

    assert [sample.prompt.text for sample in plan] == ["sad music", "gloomy piano"] * 3 + ["sad music"]
    assert [sample.seed for sample in plan] == [100, 101, 102, 103, 104, 105, 106]


def test_sample_plan_distinct_prompts_and_seeds(default_set):
    plan = default_set.sample_plan(samples_per_emotion=20, base_seed=7)

    for emotion in default_set.emotions:
        samples = [sample for sample in plan if sample.emotion == emotion]
        assert len({sample.prompt.text for sample in samples}) == 20
        assert [sample.seed for sample in samples] == list(range(7, 27))


def test_sample_plan_pairs_emotions(default_set):
    plan = default_set.sample_plan(samples_per_emotion=20, base_seed=0)
    happy = [sample for sample in plan if sample.emotion == "happy"]
    sad = [sample for sample in plan if sample.emotion == "sad"]

    assert [sample.seed for sample in happy] == [sample.seed for sample in sad]
    assert [sample.prompt.template for sample in happy] == [sample.prompt.template for sample in sad]


def test_sample_plan_every_pair_unique(default_set):
    plan = default_set.sample_plan(samples_per_emotion=60, base_seed=0)

    pairs = [(sample.prompt.text, sample.seed) for sample in plan]
    assert len(set(pairs)) == len(pairs)


def test_sample_plan_deterministic(default_set):
    first = default_set.sample_plan(samples_per_emotion=30, base_seed=3)
    second = default_set.sample_plan(samples_per_emotion=30, base_seed=3)

    assert first == second


def test_sample_plan_keeps_file_order(default_set):
    plan = default_set.sample_plan(samples_per_emotion=2, base_seed=0, emotions=["energetic", "happy"])

    assert [sample.emotion for sample in plan] == ["happy", "happy", "energetic", "energetic"]


@pytest.mark.parametrize("count", [0, -3, True, 2.5])
def test_sample_plan_rejects_bad_count(tmp_path, count):
    prompt_set = small_set(tmp_path)

    with pytest.raises(PromptSetError) as caught:
        prompt_set.sample_plan(samples_per_emotion=count, base_seed=0)

    assert "samples_per_emotion" in str(caught.value)
    assert repr(count) in str(caught.value)


def test_sample_plan_rejects_negative_seed(tmp_path):
    prompt_set = small_set(tmp_path)

    with pytest.raises(PromptSetError) as caught:
        prompt_set.sample_plan(samples_per_emotion=1, base_seed=-1)

    assert "base_seed is -1" in str(caught.value)


@pytest.mark.parametrize(
    ("emotions", "expected"),
    [
        (["happy", "angry"], "unknown emotion 'angry'"),
        (["sad", "sad"], "'sad' is requested twice"),
        ([], "emotions is empty"),
        ("happy", "the string 'happy'"),
    ],
)
def test_sample_plan_rejects_bad_emotions(tmp_path, emotions, expected):
    prompt_set = small_set(tmp_path)

    with pytest.raises(PromptSetError) as caught:
        prompt_set.sample_plan(samples_per_emotion=1, base_seed=0, emotions=emotions)

    message = str(caught.value)
    assert expected in message
    assert "small.toml" in message


def test_by_emotion_unknown(tmp_path):
    prompt_set = small_set(tmp_path)

    with pytest.raises(PromptSetError) as caught:
        prompt_set.by_emotion("angry")

    message = str(caught.value)
    assert "'angry'" in message
    assert "happy, sad" in message
    assert "small.toml" in message


def test_templates_in_first_use_order(tmp_path):
    assert small_set(tmp_path).templates == ("bare", "piano", "guitar")


# Validation errors


def test_minimal_set_loads(tmp_path):
    prompt_set = load_prompt_set(write_set(tmp_path, EMOTIONS_TOML + PROMPTS_TOML, name="minimal.toml"))

    assert prompt_set.name == "minimal"
    assert prompt_set.words == {"happy": ("happy", "joyful"), "sad": ("sad", "gloomy")}
    assert [prompt.source for prompt in prompt_set.prompts] == ["paraphrase", "paraphrase"]


def test_marked_word_case_insensitive(tmp_path):
    body = EMOTIONS_TOML + prompt_table("happy", "[Joyful] music") + prompt_table("sad", "[sad] music")

    prompt_set = load_prompt_set(write_set(tmp_path, body))

    assert prompt_set.prompts[0].emotion_words == (EmotionWord("Joyful", 0, 6),)


def test_error_missing_file(tmp_path):
    message = load_error(tmp_path / "absent_set.toml")

    assert "absent_set.toml" in message
    assert "not found" in message


def test_error_directory(tmp_path):
    message = load_error(tmp_path)

    assert str(tmp_path) in message
    assert "not a regular file" in message


def test_error_invalid_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('[meta]\nname = "caf\xe9"\n'.encode("latin-1"))

    message = load_error(path)

    assert "latin1.toml" in message
    assert "UTF-8" in message


def test_error_malformed_toml(tmp_path):
    path = write_set(tmp_path, EMOTIONS_TOML + "\n[[prompts]]\nemotion = \n")

    message = load_error(path)

    assert "bad_set.toml" in message
    assert "malformed TOML" in message
    assert re.search(r"line 9, column \d+", message), message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('prompt = "x"\n' + EMOTIONS_TOML + PROMPTS_TOML, ["top level", "'prompt'", "Did you mean 'prompts'"]),
        ('[meta]\nname = "x"\nauthor = "me"\n' + EMOTIONS_TOML + PROMPTS_TOML, ["[meta]", "'author'"]),
        (
            EMOTIONS_TOML.replace('words = ["sad", "gloomy"]', 'word = ["sad"]') + PROMPTS_TOML,
            ["[emotions.sad]", "'word'", "Did you mean 'words'"],
        ),
        (
            EMOTIONS_TOML + PROMPTS_TOML.replace('template = "bare"\n', 'templete = "bare"\n', 1),
            ["prompts[0]", "'templete'", "Did you mean 'template'"],
        ),
    ],
    ids=["top-level", "meta", "emotion-table", "prompt-table"],
)
def test_error_unknown_key(tmp_path, body, expected):
    message = load_error(write_set(tmp_path, body))

    assert "bad_set.toml" in message
    for fragment in expected:
        assert fragment in message


def test_error_fewer_than_two_emotions(tmp_path):
    body = '[emotions.happy]\nwords = ["happy"]\n' + prompt_table("happy", "[happy] music")

    message = load_error(write_set(tmp_path, body))

    assert "bad_set.toml" in message
    assert "1 emotion(s) (happy)" in message
    assert "at least two emotions" in message


def test_error_missing_emotions(tmp_path):
    message = load_error(write_set(tmp_path, PROMPTS_TOML))

    assert "bad_set.toml" in message
    assert "missing [emotions]" in message


def test_error_undeclared_emotion(tmp_path):
    body = EMOTIONS_TOML + PROMPTS_TOML + prompt_table("angry", "[angry] music")

    message = load_error(write_set(tmp_path, body))

    assert "bad_set.toml" in message
    assert "prompts[2]" in message
    assert "'angry'" in message
    assert "happy, sad" in message


def test_error_reports_line(tmp_path):
    body = EMOTIONS_TOML + PROMPTS_TOML + prompt_table("angry", "[angry] music")
    path = write_set(tmp_path, body)
    header_lines = [number for number, line in enumerate(body.split("\n"), start=1) if line == "[[prompts]]"]

    message = load_error(path)

    assert len(header_lines) == 3
    assert f"at line {header_lines[2]}" in message


@pytest.mark.parametrize("text", ["", "   "])
def test_error_empty_text(tmp_path, text):
    body = EMOTIONS_TOML + PROMPTS_TOML + prompt_table("happy", text)

    message = load_error(write_set(tmp_path, body))

    assert "bad_set.toml" in message
    assert "prompts[2]" in message
    assert f"text {text!r} is empty" in message


def test_error_duplicate_prompt(tmp_path):
    body = EMOTIONS_TOML + PROMPTS_TOML + prompt_table("happy", "  [Happy]   MUSIC ", "other")

    message = load_error(write_set(tmp_path, body))

    assert "bad_set.toml" in message
    assert "duplicate prompt" in message
    assert "prompts[0]" in message
    assert "prompts[2]" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[happy music", "never closed"),
        ("happy] music", "no matching '['"),
        ("[[happy]] music", "nested bracket"),
        ("[] music", "empty marked word"),
    ],
)
def test_error_bad_brackets(tmp_path, text, expected):
    body = EMOTIONS_TOML + PROMPTS_TOML + prompt_table("happy", text, "other")

    message = load_error(write_set(tmp_path, body))

    assert "bad_set.toml" in message
    assert "prompts[2]" in message
    assert expected in message
    assert repr(text) in message


def test_error_word_not_in_vocabulary(tmp_path):
    body = EMOTIONS_TOML + PROMPTS_TOML + prompt_table("happy", "[glad] piano", "piano")

    message = load_error(write_set(tmp_path, body))

    assert "bad_set.toml" in message
    assert "'glad'" in message
    assert "[emotions.happy]" in message
    assert "happy, joyful" in message


def test_error_word_of_other_emotion(tmp_path):
    body = EMOTIONS_TOML + PROMPTS_TOML + prompt_table("happy", "[gloomy] piano", "piano")

    message = load_error(write_set(tmp_path, body))

    assert "'gloomy'" in message
    assert "[emotions.happy]" in message


def test_error_no_marked_word(tmp_path):
    body = EMOTIONS_TOML + PROMPTS_TOML + prompt_table("happy", "happy piano", "piano")

    message = load_error(write_set(tmp_path, body))

    assert "bad_set.toml" in message
    assert "'happy piano'" in message
    assert "no marked emotion word" in message


def test_error_emotion_without_prompts(tmp_path):
    body = EMOTIONS_TOML + '\n[emotions.calm]\nwords = ["calm"]\n' + PROMPTS_TOML

    message = load_error(write_set(tmp_path, body))

    assert "bad_set.toml" in message
    assert "'calm'" in message
    assert "no prompts" in message


def test_error_no_prompts_key(tmp_path):
    message = load_error(write_set(tmp_path, EMOTIONS_TOML))

    assert "bad_set.toml" in message
    assert "no prompts" in message


@pytest.mark.parametrize("template", ["", "  ", " bare"])
def test_error_bad_template(tmp_path, template):
    body = EMOTIONS_TOML + PROMPTS_TOML + prompt_table("happy", "[joyful] piano", template)

    message = load_error(write_set(tmp_path, body))

    assert "bad_set.toml" in message
    assert "prompts[2]" in message
    assert f"template {template!r}" in message


def test_error_unknown_source(tmp_path):
    body = EMOTIONS_TOML + PROMPTS_TOML + prompt_table("happy", "[joyful] piano", "piano", 'source = "paper"')

    message = load_error(write_set(tmp_path, body))

    assert "bad_set.toml" in message
    assert "source 'paper'" in message
    assert "note, paraphrase" in message


def test_error_missing_prompt_key(tmp_path):
    body = EMOTIONS_TOML + PROMPTS_TOML + '\n[[prompts]]\nemotion = "happy"\ntext = "[joyful] piano"\n'

    message = load_error(write_set(tmp_path, body))

    assert "prompts[2]" in message
    assert "missing required key 'template'" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            EMOTIONS_TOML.replace('words = ["sad", "gloomy"]', 'words = "sad"') + PROMPTS_TOML,
            ["[emotions.sad] words", "'sad'", "str"],
        ),
        (
            EMOTIONS_TOML.replace('words = ["sad", "gloomy"]', 'words = ["sad", 3]') + PROMPTS_TOML,
            ["[emotions.sad] words[1]", "3", "int"],
        ),
        (
            EMOTIONS_TOML.replace('words = ["sad", "gloomy"]', "words = []") + PROMPTS_TOML,
            ["[emotions.sad] words", "non-empty list"],
        ),
        (
            EMOTIONS_TOML.replace('words = ["sad", "gloomy"]', 'words = ["sad", "Sad"]') + PROMPTS_TOML,
            ["[emotions.sad] words[1]", "'Sad'", "repeats words[0]"],
        ),
        (
            EMOTIONS_TOML.replace('words = ["sad", "gloomy"]', 'words = ["sad", "[gloomy]"]') + PROMPTS_TOML,
            ["[emotions.sad] words[1]", "'[gloomy]'", "square brackets"],
        ),
        ('emotions = ["happy", "sad"]\n' + PROMPTS_TOML, ["'emotions' must be a table", "list"]),
        ('[emotions]\nhappy = ["happy"]\nsad = ["sad"]\n' + PROMPTS_TOML, ["emotions.happy must be a table"]),
        ('prompts = "x"\n' + EMOTIONS_TOML, ["'prompts' must be an array of tables", "'x'"]),
        (EMOTIONS_TOML + PROMPTS_TOML.replace('text = "[sad] music"', "text = 5"), ["prompts[1]", "text", "5", "int"]),
        (
            '[meta]\nname = 3\n' + EMOTIONS_TOML + PROMPTS_TOML,
            ["meta.name must be a string", "3", "int"],
        ),
        ('meta = "x"\n' + EMOTIONS_TOML + PROMPTS_TOML, ["'meta' must be a table"]),
    ],
    ids=[
        "words-string",
        "words-item-int",
        "words-empty",
        "words-duplicate",
        "words-brackets",
        "emotions-list",
        "emotion-not-table",
        "prompts-string",
        "text-int",
        "meta-name-int",
        "meta-string",
    ],
)
def test_error_wrong_types(tmp_path, body, expected):
    message = load_error(write_set(tmp_path, body))

    assert "bad_set.toml" in message
    for fragment in expected:
        assert fragment in message
