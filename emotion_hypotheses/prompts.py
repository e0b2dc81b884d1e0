"""Prompt sets read from TOML: emotions, prompts with marked emotion words, and sample plans.

A prompt set file declares each emotion's vocabulary and a list of prompts::

    [meta]
    name = "default"                  # optional, defaults to the file stem
    description = "..."               # optional

    [emotions.happy]
    words = ["happy", "cheerful", "upbeat"]

    [[prompts]]
    emotion = "happy"
    text = "[happy] [cheerful] [upbeat] music"
    template = "triple"
    source = "note"                   # "note" or "paraphrase" (the default)

Square brackets mark the emotion words inside a prompt. Each marked word must be in its
emotion's ``words`` list. The ``template`` id names the sentence frame, and the same id
is used across emotions, so analyses can use it as the group in grouped cross-validation.

``load_prompt_set`` validates the whole file and raises ``PromptSetError`` with the file,
the key or line, the offending value and the fix.
"""

from __future__ import annotations

import difflib
import numbers
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 has no tomllib, so it reads TOML with the tomli backport.
    import tomli as tomllib

from emotion_hypotheses.errors import PromptSetError

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"
PROMPT_SETS_DIR = FIXTURES_DIR / "prompts"
# NOTE: fixtures/ sits next to the package, not inside it, so this path exists only in a
# source checkout or an editable install.
DEFAULT_PROMPT_SET = PROMPT_SETS_DIR / "default.toml"

SOURCES = ("note", "paraphrase")
DEFAULT_SOURCE = "paraphrase"

_TOP_LEVEL_KEYS = ("meta", "emotions", "prompts")
_META_KEYS = ("name", "description")
_EMOTION_KEYS = ("words", "description")
_PROMPT_KEYS = ("emotion", "text", "template", "source")
_REQUIRED_PROMPT_KEYS = ("emotion", "text", "template")

# tomllib returns plain dicts without source positions. To give a line number for a bad
# prompt, the loader finds the `[[prompts]]` header lines in the raw text itself.
_PROMPT_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*prompts[ \t]*\]\][ \t]*(#.*)?$")


@dataclass(frozen=True)
class EmotionWord:
    """An emotion word marked in a prompt, with its character span in the plain text."""

    word: str
    start: int
    end: int


@dataclass(frozen=True)
class Prompt:
    """A prompt of one emotion, with its brackets removed and its emotion words located."""

    emotion: str
    text: str
    template: str
    emotion_words: tuple[EmotionWord, ...]
    source: str = DEFAULT_SOURCE

    @property
    def marked_text(self) -> str:
        """The prompt text with each emotion word in square brackets, as written in the file."""
        pieces = []
        cursor = 0
        for emotion_word in self.emotion_words:
            pieces.append(self.text[cursor : emotion_word.start])
            pieces.append(f"[{self.text[emotion_word.start : emotion_word.end]}]")
            cursor = emotion_word.end

        pieces.append(self.text[cursor:])
        return "".join(pieces)


@dataclass(frozen=True)
class Sample:
    """One (prompt, seed) pair to generate. ``index`` is its position within its emotion."""

    emotion: str
    prompt: Prompt
    seed: int
    index: int


@dataclass(frozen=True)
class PromptSet:
    """A validated prompt set: emotions in file order, their vocabularies and their prompts."""

    name: str
    path: Path
    emotions: tuple[str, ...]
    words: dict[str, tuple[str, ...]] = field(hash=False)
    prompts: tuple[Prompt, ...]

    def by_emotion(self, emotion: str) -> tuple[Prompt, ...]:
        """Return the prompts of one emotion in file order.

        Raises PromptSetError if the set does not declare the emotion.
        """
        if emotion not in self.emotions:
            raise PromptSetError(
                f"Unknown emotion {emotion!r} for prompt set {self.name!r} ({self.path}). "
                f"Known emotions: {', '.join(self.emotions)}. Use one of those names."
            )

        return tuple(prompt for prompt in self.prompts if prompt.emotion == emotion)

    @property
    def templates(self) -> tuple[str, ...]:
        """Template ids in order of first use."""
        return tuple(dict.fromkeys(prompt.template for prompt in self.prompts))

    def sample_plan(
        self,
        samples_per_emotion: int,
        base_seed: int,
        emotions: Iterable[str] | None = None,
    ) -> list[Sample]:
        """Plan ``samples_per_emotion`` samples for each selected emotion, in file order.

        Sample i of an emotion with n prompts uses prompt ``i % n`` and seed ``base_seed + i``.
        Within an emotion every sample has its own seed, so within-emotion comparisons span
        seeds and paraphrases. Across emotions, sample i shares its seed and (in a parallel
        prompt set) its template, a paired design in which only the emotion words differ.
        The plan depends only on the arguments and the file, so repeated calls return equal lists.

        ``emotions`` selects a subset (default: all). The plan keeps file order whatever
        the order of ``emotions``. Raises PromptSetError for a count below 1, a negative
        or non-integer seed, and unknown, repeated or no selected emotions.
        """
        samples_per_emotion = self._check_integer("samples_per_emotion", samples_per_emotion, minimum=1)
        base_seed = self._check_integer("base_seed", base_seed, minimum=0)
        selected = self._select_emotions(emotions)

        plan = []
        for emotion in selected:
            prompts = self.by_emotion(emotion)
            for index in range(samples_per_emotion):
                prompt = prompts[index % len(prompts)]
                seed = base_seed + index
                plan.append(Sample(emotion=emotion, prompt=prompt, seed=seed, index=index))

        return plan

    def _check_integer(self, name: str, value: Any, minimum: int) -> int:
        # bool is an Integral subclass, but True as a sample count is a caller's mistake.
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise PromptSetError(
                f"sample_plan for prompt set {self.name!r} ({self.path}): {name} must be an "
                f"integer, got {value!r} ({type(value).__name__}). Pass a whole number >= {minimum}."
            )

        if value < minimum:
            raise PromptSetError(
                f"sample_plan for prompt set {self.name!r} ({self.path}): {name} is {value}, "
                f"but it must be >= {minimum}. Pass a whole number >= {minimum}."
            )

        return int(value)

    def _select_emotions(self, emotions: Iterable[str] | None) -> tuple[str, ...]:
        if emotions is None:
            return self.emotions

        # A bare string would iterate over its characters, so reject it with a hint.
        if isinstance(emotions, str):
            raise PromptSetError(
                f"sample_plan for prompt set {self.name!r} ({self.path}): emotions must be a "
                f"list of names, got the string {emotions!r}. Pass [{emotions!r}] instead."
            )

        requested = list(emotions)
        if not requested:
            raise PromptSetError(
                f"sample_plan for prompt set {self.name!r} ({self.path}): emotions is empty. "
                f"Pass None for all emotions or some of: {', '.join(self.emotions)}."
            )

        seen = set()
        for emotion in requested:
            if emotion not in self.emotions:
                raise PromptSetError(
                    f"sample_plan for prompt set {self.name!r} ({self.path}): unknown emotion "
                    f"{emotion!r}. Known emotions: {', '.join(self.emotions)}."
                )

            if emotion in seen:
                raise PromptSetError(
                    f"sample_plan for prompt set {self.name!r} ({self.path}): emotion "
                    f"{emotion!r} is requested twice. List each emotion once."
                )

            seen.add(emotion)

        return tuple(emotion for emotion in self.emotions if emotion in seen)


def parse_marked_text(marked_text: str) -> tuple[str, tuple[EmotionWord, ...]]:
    """Remove the square brackets from a prompt and return the plain text and its marked words.

    Spans index the plain text, so ``text[word.start:word.end] == word.word``. Literal
    brackets cannot be escaped. Raises PromptSetError for an unbalanced or nested bracket,
    an empty ``[]``, or whitespace at either end of a marked word. The message gives the
    character position in ``marked_text`` but no file, so callers add the location.
    """
    plain_parts: list[str] = []
    words: list[EmotionWord] = []
    plain_length = 0
    open_at: int | None = None
    segment_start = 0

    for position, character in enumerate(marked_text):
        if character == "[":
            if open_at is not None:
                raise PromptSetError(
                    f"nested bracket: '[' at character {position} opens inside the marked word "
                    f"that starts at character {open_at} of {marked_text!r}. "
                    "Mark each emotion word separately, as '[word]'."
                )

            plain_parts.append(marked_text[segment_start:position])
            plain_length += position - segment_start
            open_at = position
            segment_start = position + 1

        elif character == "]":
            if open_at is None:
                raise PromptSetError(
                    f"unbalanced bracket: ']' at character {position} of {marked_text!r} has no "
                    "matching '['. Add the '[' or remove the ']'."
                )

            word = marked_text[segment_start:position]
            _check_marked_word(word, open_at, marked_text)
            words.append(EmotionWord(word=word, start=plain_length, end=plain_length + len(word)))
            plain_parts.append(word)
            plain_length += len(word)
            open_at = None
            segment_start = position + 1

    if open_at is not None:
        raise PromptSetError(
            f"unbalanced bracket: '[' at character {open_at} of {marked_text!r} is never closed. "
            "Add the ']' after the emotion word."
        )

    plain_parts.append(marked_text[segment_start:])
    return "".join(plain_parts), tuple(words)


def _check_marked_word(word: str, open_at: int, marked_text: str) -> None:
    if not word:
        raise PromptSetError(
            f"empty marked word '[]' at character {open_at} of {marked_text!r}. "
            "Put an emotion word inside the brackets or remove them."
        )

    if word != word.strip():
        raise PromptSetError(
            f"marked word {word!r} at character {open_at} of {marked_text!r} has whitespace at "
            f"its start or end. Write it as '[{word.strip()}]'."
        )


def available_prompt_sets() -> tuple[str, ...]:
    """Return the bare names of the prompt sets in fixtures/prompts/, sorted."""
    if not PROMPT_SETS_DIR.is_dir():
        return ()

    return tuple(sorted(path.stem for path in PROMPT_SETS_DIR.glob("*.toml")))


def resolve_prompt_set(name_or_path: str | os.PathLike[str]) -> Path:
    """Return the path of a prompt set given as a file path or a bare name in fixtures/prompts/.

    A ``Path``, or a string that contains a path separator or ends in ``.toml``, is a
    path. Any other string is a bare name, so ``"default"`` resolves to
    ``fixtures/prompts/default.toml``. Raises PromptSetError if the file does not exist.
    """
    text = os.fspath(name_or_path)
    is_path = (
        isinstance(name_or_path, os.PathLike)
        or "/" in text
        or os.sep in text
        or text.endswith(".toml")
    )

    if is_path:
        path = Path(text)
        if not path.is_file():
            raise PromptSetError(
                f"Prompt set file not found: {path}. Pass the path of an existing TOML file, "
                f"or a bare name of a set in {PROMPT_SETS_DIR} "
                f"(available: {', '.join(available_prompt_sets()) or 'none'})."
            )

        return path

    path = PROMPT_SETS_DIR / f"{text}.toml"
    if not text or not path.is_file():
        raise PromptSetError(
            f"No prompt set named {text!r} in {PROMPT_SETS_DIR}. Available: "
            f"{', '.join(available_prompt_sets()) or 'none'}. Pass one of those names or the "
            "path of a TOML file."
        )

    return path


def load_prompt_set(path: str | os.PathLike[str]) -> PromptSet:
    """Read and validate a prompt set file.

    Raises PromptSetError naming the file, the key or line, the value and the fix for a
    missing or unreadable file, malformed TOML, unknown keys, wrong types, fewer than two
    emotions, an emotion without prompts, and any invalid prompt (see ``_load_prompt``).
    """
    path = Path(path)
    raw_text = _read_text(path)
    document = _parse_toml(path, raw_text)

    _check_keys(document, _TOP_LEVEL_KEYS, f"{path}: top level")
    name = _load_meta(path, document)
    words = _load_emotions(path, document)

    prompt_tables = _prompt_tables(path, document)
    header_lines = _prompt_header_lines(raw_text, len(prompt_tables))
    prompts = _load_prompts(path, prompt_tables, header_lines, words)

    _check_every_emotion_has_prompts(path, words, prompts)

    return PromptSet(
        name=name,
        path=path,
        emotions=tuple(words),
        words=words,
        prompts=prompts,
    )


def _read_text(path: Path) -> str:
    if not path.exists():
        raise PromptSetError(
            f"Prompt set file not found: {path}. Check the path, or pass a bare name of a set "
            f"in {PROMPT_SETS_DIR} (available: {', '.join(available_prompt_sets()) or 'none'})."
        )

    if not path.is_file():
        raise PromptSetError(f"Prompt set path {path} is not a regular file. Pass the path of a TOML file.")

    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PromptSetError(f"Cannot read prompt set file {path}: {error}. Check its permissions.") from error

    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PromptSetError(
            f"{path}: invalid UTF-8 at byte {error.start}. TOML files must be UTF-8, so re-save "
            "the file with that encoding."
        ) from error


def _parse_toml(path: Path, raw_text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(raw_text)
    except tomllib.TOMLDecodeError as error:
        # The tomllib message ends with "(at line L, column C)".
        raise PromptSetError(f"{path}: malformed TOML: {error}. Fix the syntax at that position.") from error


def _check_keys(table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key in allowed:
            continue

        suggestion = difflib.get_close_matches(key, allowed, n=1)
        hint = f"Did you mean {suggestion[0]!r}? " if suggestion else ""
        raise PromptSetError(
            f"{where}: unknown key {key!r}. {hint}Allowed keys: {', '.join(allowed)}. "
            "Rename or remove it."
        )


def _type_name(value: Any) -> str:
    return type(value).__name__


def _load_meta(path: Path, document: dict[str, Any]) -> str:
    meta = document.get("meta", {})
    if not isinstance(meta, dict):
        raise PromptSetError(
            f"{path}: 'meta' must be a table, got {meta!r} ({_type_name(meta)}). "
            "Write it as a [meta] section."
        )

    _check_keys(meta, _META_KEYS, f"{path}: [meta]")

    for key in _META_KEYS:
        if key in meta and not isinstance(meta[key], str):
            raise PromptSetError(
                f"{path}: meta.{key} must be a string, got {meta[key]!r} ({_type_name(meta[key])}). "
                "Quote the value."
            )

    name = meta.get("name", path.stem)
    if not name.strip():
        raise PromptSetError(f"{path}: meta.name is empty. Give the set a name or remove the key.")

    return name


def _load_emotions(path: Path, document: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    if "emotions" not in document:
        raise PromptSetError(
            f"{path}: missing [emotions]. Declare at least two emotions, each as "
            '[emotions.NAME] with words = ["...", ...].'
        )

    emotions = document["emotions"]
    if not isinstance(emotions, dict):
        raise PromptSetError(
            f"{path}: 'emotions' must be a table of emotion tables, got {emotions!r} "
            f"({_type_name(emotions)}). Write each emotion as [emotions.NAME]."
        )

    if len(emotions) < 2:
        declared = ", ".join(emotions) or "none"
        raise PromptSetError(
            f"{path}: [emotions] declares {len(emotions)} emotion(s) ({declared}), but a prompt "
            "set needs at least two emotions to compare. Add another [emotions.NAME] table."
        )

    words = {}
    for emotion, table in emotions.items():
        words[emotion] = _load_emotion_words(path, emotion, table)

    return words


def _load_emotion_words(path: Path, emotion: str, table: Any) -> tuple[str, ...]:
    where = f"[emotions.{emotion}]"
    if not emotion.strip():
        raise PromptSetError(f"{path}: an emotion name under [emotions] is empty. Name the emotion.")

    if not isinstance(table, dict):
        raise PromptSetError(
            f"{path}: emotions.{emotion} must be a table, got {table!r} ({_type_name(table)}). "
            f'Write it as {where} with words = ["...", ...].'
        )

    _check_keys(table, _EMOTION_KEYS, f"{path}: {where}")

    if "description" in table and not isinstance(table["description"], str):
        raise PromptSetError(
            f"{path}: {where} description must be a string, got {table['description']!r}. Quote the value."
        )

    if "words" not in table:
        raise PromptSetError(
            f'{path}: {where} has no words list. Add words = ["{emotion}", ...] with the '
            "emotion's vocabulary."
        )

    words = table["words"]
    if not isinstance(words, list) or not words:
        raise PromptSetError(
            f"{path}: {where} words must be a non-empty list of strings, got {words!r} "
            f'({_type_name(words)}). Write words = ["{emotion}", ...].'
        )

    seen: dict[str, int] = {}
    for index, word in enumerate(words):
        key = f"{where} words[{index}]"
        if not isinstance(word, str):
            raise PromptSetError(
                f"{path}: {key} must be a string, got {word!r} ({_type_name(word)}). Quote the word."
            )

        if not word.strip() or word != word.strip() or "[" in word or "]" in word:
            raise PromptSetError(
                f"{path}: {key} is {word!r}. A word must be non-empty, without whitespace at "
                "either end and without square brackets. Fix or remove it."
            )

        folded = word.casefold()
        if folded in seen:
            raise PromptSetError(
                f"{path}: {key} {word!r} repeats words[{seen[folded]}] (case-insensitive). "
                "Remove the duplicate."
            )

        seen[folded] = index

    return tuple(words)


def _prompt_tables(path: Path, document: dict[str, Any]) -> list[Any]:
    if "prompts" not in document:
        raise PromptSetError(
            f"{path}: no prompts. Add [[prompts]] tables with emotion, text and template keys."
        )

    tables = document["prompts"]
    if not isinstance(tables, list):
        raise PromptSetError(
            f"{path}: 'prompts' must be an array of tables, got {tables!r} ({_type_name(tables)}). "
            "Write each prompt as a [[prompts]] table."
        )

    return tables


def _prompt_header_lines(raw_text: str, count: int) -> list[int] | None:
    # A mismatch means some prompts are written another way (an inline array, or a header
    # inside a multi-line string), so the loader reports array indices without lines.
    lines = [
        number
        for number, line in enumerate(raw_text.split("\n"), start=1)
        if _PROMPT_HEADER.match(line.rstrip("\r"))
    ]
    return lines if len(lines) == count else None


def _prompt_location(path: Path, index: int, header_lines: list[int] | None) -> str:
    if header_lines is None:
        return f"{path}: prompts[{index}]"

    return f"{path}: prompts[{index}] (the [[prompts]] table at line {header_lines[index]})"


def _load_prompts(
    path: Path,
    tables: list[Any],
    header_lines: list[int] | None,
    words: dict[str, tuple[str, ...]],
) -> tuple[Prompt, ...]:
    prompts = []
    first_index_by_text: dict[str, int] = {}

    for index, table in enumerate(tables):
        where = _prompt_location(path, index, header_lines)
        prompt = _load_prompt(where, table, words)

        # Duplicates compare the plain text, ignoring case and runs of whitespace.
        normalized = " ".join(prompt.text.casefold().split())
        if normalized in first_index_by_text:
            first = first_index_by_text[normalized]
            raise PromptSetError(
                f"{where}: duplicate prompt {prompt.text!r}: prompts[{first}] has the same text "
                f"(ignoring case and whitespace). Remove or reword prompts[{index}]."
            )

        first_index_by_text[normalized] = index
        prompts.append(prompt)

    return tuple(prompts)


def _load_prompt(where: str, table: Any, words: dict[str, tuple[str, ...]]) -> Prompt:
    """Validate one [[prompts]] table and build its Prompt.

    Rejects unknown or missing keys, non-string values, an undeclared emotion, empty
    text, bad bracket markup, a prompt without a marked word, a marked word missing from
    its emotion's ``words`` (compared case-insensitively), an empty template and an
    unknown source. ``where`` names the file and the prompt's index or line.
    """
    if not isinstance(table, dict):
        raise PromptSetError(
            f"{where} must be a table, got {table!r} ({_type_name(table)}). "
            "Write the prompt as a [[prompts]] table."
        )

    _check_prompt_table(where, table)
    emotion, text, template = (table[key] for key in _REQUIRED_PROMPT_KEYS)
    source = table.get("source", DEFAULT_SOURCE)

    if emotion not in words:
        raise PromptSetError(
            f"{where}: emotion {emotion!r} is not declared under [emotions]. Declared: "
            f"{', '.join(words)}. Fix the name or add an [emotions.{emotion}] table."
        )

    if not text.strip():
        raise PromptSetError(
            f"{where}: text {text!r} is empty. Write the prompt, with its emotion words in [brackets]."
        )

    try:
        plain_text, emotion_words = parse_marked_text(text)
    except PromptSetError as error:
        raise PromptSetError(f"{where}: text: {error}") from error

    _check_emotion_words(where, text, emotion, emotion_words, words[emotion])

    if not template.strip() or template != template.strip():
        raise PromptSetError(
            f"{where}: template {template!r} is empty or has whitespace at either end. Give the "
            "id of the prompt's sentence frame, the same id for every emotion."
        )

    if source not in SOURCES:
        raise PromptSetError(
            f"{where}: source {source!r} is not one of {', '.join(SOURCES)}. Use \"note\" for the "
            "research note's exact prompts and \"paraphrase\" otherwise."
        )

    return Prompt(
        emotion=emotion,
        text=plain_text,
        template=template,
        emotion_words=emotion_words,
        source=source,
    )


def _check_prompt_table(where: str, table: dict[str, Any]) -> None:
    _check_keys(table, _PROMPT_KEYS, where)

    for key in _REQUIRED_PROMPT_KEYS:
        if key not in table:
            raise PromptSetError(
                f"{where}: missing required key {key!r}. Each [[prompts]] table needs "
                f"{', '.join(_REQUIRED_PROMPT_KEYS)}."
            )

    for key in _PROMPT_KEYS:
        if key in table and not isinstance(table[key], str):
            raise PromptSetError(
                f"{where}: {key} must be a string, got {table[key]!r} ({_type_name(table[key])}). "
                "Quote the value."
            )


def _check_emotion_words(
    where: str,
    text: str,
    emotion: str,
    emotion_words: tuple[EmotionWord, ...],
    vocabulary: tuple[str, ...],
) -> None:
    if not emotion_words:
        raise PromptSetError(
            f"{where}: text {text!r} has no marked emotion word. Put the emotion words in square "
            "brackets, for example '[happy] music'."
        )

    allowed = {word.casefold() for word in vocabulary}
    for emotion_word in emotion_words:
        if emotion_word.word.casefold() not in allowed:
            raise PromptSetError(
                f"{where}: marked word {emotion_word.word!r} in {text!r} is not in the words of "
                f"[emotions.{emotion}] ({', '.join(vocabulary)}). Add it to that list or mark "
                "another word."
            )


def _check_every_emotion_has_prompts(
    path: Path,
    words: dict[str, tuple[str, ...]],
    prompts: tuple[Prompt, ...],
) -> None:
    used = {prompt.emotion for prompt in prompts}
    for emotion in words:
        if emotion not in used:
            raise PromptSetError(
                f"{path}: emotion {emotion!r} is declared under [emotions] but has no prompts. "
                f'Add [[prompts]] tables with emotion = "{emotion}" or remove [emotions.{emotion}].'
            )
