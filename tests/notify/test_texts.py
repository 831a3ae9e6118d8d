"""The notice texts file: the shipped one covers every kind and step in Chinese,
education first; a broken one stops the service at start with the file, the key and
the fix."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from smartcity_iot.cli import main
from smartcity_iot.config import Settings
from smartcity_iot.model import DOG_KINDS, HEALTH_KINDS
from smartcity_iot.notify import texts
from smartcity_iot.notify.texts import DEFAULT_TEXTS, NoticeTextsError, load_texts
from smartcity_iot.rules.escalation import STEPS
from smartcity_iot.service import Service

from ..support import TEST_ZONES


def shipped() -> dict:
    return tomllib.loads(DEFAULT_TEXTS.read_text(encoding="utf-8"))


def write(tmp_path: Path, doc: dict | str) -> Path:
    path = tmp_path / "texts.toml"
    if isinstance(doc, str):
        path.write_text(doc, encoding="utf-8")
        return path
    lines = []
    for kind, table in doc.items():
        lines.append(f"[{kind}]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_shipped_texts_cover_every_kind_and_step_in_chinese() -> None:
    loaded = load_texts()
    for kind in DOG_KINDS:
        for step in STEPS:
            assert "{dog}" in loaded.text_for(kind, step)
    for kind in HEALTH_KINDS:
        assert "{tag}" in loaded.text_for(kind, None)
    assert all("智慧城管" in t for t in loaded.texts.values())


def test_the_first_offence_text_educates_and_fines_nobody() -> None:
    """The 721 policy: a first offence is education and guidance, never a fine."""
    for kind in DOG_KINDS:
        first = load_texts().text_for(kind, "education")
        assert "{step}" in first and "不予处罚" in first and "牵绳" in first
        assert "罚款" not in first.replace("不予处罚", "")


def test_the_steps_are_the_escalation_ladder() -> None:
    assert texts.STEPS == STEPS and set(texts.STEP_LABELS) == set(STEPS)


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        (
            lambda d: d.pop("tag_offline"),
            ["[tag_offline]", "is missing", 'add a table [tag_offline] with notice = "…"'],
        ),
        (
            lambda d: d["dog_forbidden_zone"].pop("warning"),
            ["dog_forbidden_zone.warning", "is missing", 'add warning = "…"'],
        ),
        (
            lambda d: d["dog_outside_walking_hours"].update(education="请{phone}联系"),
            ["dog_outside_walking_hours.education", "{phone}", "not a placeholder", "{dog}"],
        ),
        (
            lambda d: d["dog_forbidden_zone"].update(penalty="第{0}次"),
            ["dog_forbidden_zone.penalty", "{0}", "not a placeholder"],
        ),
        (
            lambda d: d["tag_low_battery"].update(notice="电量{低"),
            ["tag_low_battery.notice", "stray brace", "{{ and }}"],
        ),
        (
            lambda d: d["tag_low_battery"].update(notice="  "),
            ["tag_low_battery.notice", "non-empty text"],
        ),
        (
            lambda d: d["tag_offline"].update(notice="{time:%H}"),
            ["tag_offline.notice", "without ':' or '!'"],
        ),
        (
            lambda d: d.update(dog_forbiden_zone={"education": "x"}),
            ["[dog_forbiden_zone]", "is not an alert kind", "dog_forbidden_zone"],
        ),
        (
            lambda d: d["dog_forbidden_zone"].update(educaton="x"),
            ["dog_forbidden_zone.educaton", "is not a step", "education, warning"],
        ),
    ],
)
def test_a_broken_texts_file_is_refused_with_the_file_the_key_and_the_fix(
    tmp_path: Path, change, needles: list[str]
) -> None:  # type: ignore[no-untyped-def]
    doc = shipped()
    change(doc)
    path = write(tmp_path, doc)
    with pytest.raises(NoticeTextsError) as err:
        load_texts(path)
    message = str(err.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message, (needle, message)


def test_a_file_that_is_not_toml_or_not_there_is_refused(tmp_path: Path) -> None:
    bad = write(tmp_path, '[dog_forbidden_zone]\neducation = "unterminated\n')
    with pytest.raises(NoticeTextsError, match="is not valid TOML"):
        load_texts(bad)
    with pytest.raises(NoticeTextsError, match=r"cannot be read.*--notice-texts"):
        load_texts(tmp_path / "missing.toml")
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('[tag_offline]\nnotice = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(NoticeTextsError, match="save it as UTF-8"):
        load_texts(latin1)


def test_a_bureau_file_with_literal_braces_and_its_own_words_is_used(tmp_path: Path) -> None:
    doc = shipped()
    doc["dog_forbidden_zone"]["education"] = "{{提醒}} {owner}：{dog}进入{zone}，{step}。"
    loaded = load_texts(write(tmp_path, doc))
    values = {"owner": "王芳", "dog": "豆豆", "zone": "府山公园", "step": "教育引导"}
    assert (
        loaded.render("dog_forbidden_zone", "education", values)
        == "{提醒} 王芳：豆豆进入府山公园，教育引导。"
    )


def test_the_service_does_not_start_with_a_broken_texts_file(tmp_path: Path) -> None:
    doc = shipped()
    doc["dog_forbidden_zone"].pop("strict")
    path = write(tmp_path, doc)
    settings = Settings(data_dir=tmp_path / "data", geofences=TEST_ZONES, notice_texts=path)
    with pytest.raises(NoticeTextsError, match="dog_forbidden_zone.strict"):
        Service(settings)


def test_serve_stops_with_a_message_naming_the_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = shipped()
    doc["tag_offline"]["notice"] = "{serial}"
    path = write(tmp_path, doc)
    code = main(
        ["serve", "--notice-texts", str(path), "--data-dir", str(tmp_path / "d"),
         "--geofences", str(TEST_ZONES)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert str(path) in err and "tag_offline.notice" in err and "{serial}" in err
