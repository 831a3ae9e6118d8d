"""One message catalogue for everything a person reads on the web: the pages, the API's
error texts and the owners' guidance texts. Chinese is the default language, English is
selectable; a text exists in both or the catalogue does not load.

The catalogue is the TOML files under messages/, one per part of the product. A message
is a table with exactly `zh` and `en`; its key is the dotted path to it
(`[status] open = { zh = "进行中", en = "Open" }` is `status.open`). Both languages must
name the same {placeholders}. Keys are unique across the files."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
MESSAGES = Path(__file__).with_name("messages")
_FORMATTER = string.Formatter()


class CatalogueError(ValueError):
    """The catalogue is malformed or incomplete; the message names the file, key and fix."""


class Refusal(ValueError):
    """A request the person can fix, as a catalogue key and its parameters, so each reader
    gets it in their language. `str()` is the English text (logs, the CLI)."""

    def __init__(self, key: str, /, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def text(self, lang: str = DEFAULT_LANG) -> str:
        # a parameter that is itself a Refusal (a label, a wrapped reason) reads in `lang` too
        params = {k: v.text(lang) if isinstance(v, Refusal) else v for k, v in self.params.items()}
        return catalogue().text(self.key, lang, **params)

    def __str__(self) -> str:
        return self.text("en")


class Catalogue:
    def __init__(self, messages: Mapping[str, Mapping[str, str]]) -> None:
        self.messages = messages

    def text(self, key: str, lang: str = DEFAULT_LANG, **params: Any) -> str:
        message = self.messages.get(key)
        if message is None:
            raise KeyError(f"no message {key!r} in the catalogue ({MESSAGES})")
        template = message[lang if lang in LANGS else DEFAULT_LANG]
        return template.format(**params) if params else template

    def language(self, lang: str) -> dict[str, str]:
        """Every text in one language, for the pages' script."""
        lang = lang if lang in LANGS else DEFAULT_LANG
        return {key: m[lang] for key, m in self.messages.items()}

    def group(self, prefix: str) -> dict[str, Mapping[str, str]]:
        """The messages under `prefix.`, by their last key part."""
        start = prefix + "."
        return {k[len(start) :]: m for k, m in self.messages.items() if k.startswith(start)}


@cache
def catalogue(directory: Path = MESSAGES) -> Catalogue:
    messages: dict[str, dict[str, str]] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CatalogueError(f"{path}: {exc}") from None
        for key, message in _leaves(doc, path):
            if key in messages:
                raise CatalogueError(f"{path}: {key} is also defined in another file; keep one")
            messages[key] = message
    return Catalogue(messages)


def text(key: str, lang: str = DEFAULT_LANG, **params: Any) -> str:
    return catalogue().text(key, lang, **params)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in _FORMATTER.parse(template) if name}


def _leaves(
    table: Mapping[str, Any], path: Path, prefix: str = ""
) -> Iterator[tuple[str, dict[str, str]]]:
    for name, value in table.items():
        key = f"{prefix}{name}"
        if not isinstance(value, dict):
            raise CatalogueError(f'{path}: {key} is a bare value; write {{ zh = "…", en = "…" }}')
        if set(value) & set(LANGS):
            if set(value) != set(LANGS) or not all(isinstance(v, str) for v in value.values()):
                raise CatalogueError(
                    f"{path}: {key} must have exactly the texts zh and en, it has {sorted(value)}"
                )
            try:
                names = {lang: placeholders(value[lang]) for lang in LANGS}
            except ValueError as exc:
                raise CatalogueError(f"{path}: {key}: {exc} (write {{{{ for a brace)") from None
            if names["zh"] != names["en"]:
                raise CatalogueError(
                    f"{path}: {key}: zh names {sorted(names['zh'])} but en names "
                    f"{sorted(names['en'])}; both must use the same placeholders"
                )
            yield key, dict(value)
        else:
            yield from _leaves(value, path, key + ".")
