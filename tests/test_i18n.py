"""The message catalogue: complete in both languages, each text in its own language, and
every key the code and pages name present."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smartcity_iot.i18n import LANGS, CatalogueError, Refusal, catalogue
from tests.i18n_check import foreign

SRC = Path(__file__).resolve().parents[1] / "src" / "smartcity_iot"
# how the code and pages name a key
REFERENCES = [
    (("*.js",), re.compile(r"""SC\.t\(\s*["'`]([a-z0-9_]+(?:\.[a-z0-9_]+)+)["'`]""")),
    (
        ("*.html", "*.js"),
        re.compile(r"""data-t(?:-[a-z-]+)?=["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']"""),
    ),
    (
        ("*.py",),
        re.compile(
            r"""(?:Refusal|refuse\(\s*\d+,|Error)\(\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']"""
        ),
    ),
]


def test_every_text_is_in_both_languages_and_only_its_own() -> None:
    messages = catalogue().messages
    assert len(messages) > 40
    for key, message in messages.items():
        assert set(message) == set(LANGS), key
        for lang in LANGS:
            assert message[lang].strip(), f"{key}.{lang} is empty"
            assert not foreign(message[lang], lang), f"{key}.{lang}: {message[lang]!r} is mixed"


def test_every_key_the_code_names_exists() -> None:
    messages = catalogue().messages
    missing = []
    for patterns, regex in REFERENCES:
        for pattern in patterns:
            for path in SRC.rglob(pattern):
                if "vendor" in path.parts:
                    continue
                for key in regex.findall(path.read_text(encoding="utf-8")):
                    if key not in messages:
                        missing.append(f"{path.relative_to(SRC)}: {key}")
    assert not missing, "keys not in the catalogue:\n" + "\n".join(sorted(set(missing)))


def test_refusal_reads_in_each_language() -> None:
    refusal = Refusal("error.unexpected", status=503)
    assert refusal.text("zh") == "出错了（503），请稍后再试"
    assert str(refusal) == "Something went wrong (503); try again later"


def test_a_bad_catalogue_names_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[x]\nok = { zh = "好 {n}", en = "fine" }\n', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"a\.toml: x\.ok: zh names \['n'\]"):
        catalogue.__wrapped__(tmp_path)
    (tmp_path / "a.toml").write_text('[x]\nok = { zh = "好" }\n', encoding="utf-8")
    with pytest.raises(
        CatalogueError, match=r"a\.toml: x\.ok must have exactly the texts zh and en"
    ):
        catalogue.__wrapped__(tmp_path)


def test_the_foreign_check_catches_mixed_text() -> None:
    assert foreign("注册失败 this password is common", "zh") == ["this", "password", "is", "common"]
    assert foreign("Zone 水亭街 (G-01)", "en") == ["水亭街"]
    assert foreign("Zone 水亭街 (G-01)", "en", data=["水亭街"]) == []
    assert foreign("网格 G-01 犬牌 tag-0001", "zh", data=["tag-0001"]) == []
