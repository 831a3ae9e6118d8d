"""The texts of owners' notices: one TOML file a bureau can edit (Chinese by default,
shipped as notify/notice_texts.toml), one text per alert kind and escalation step with
{placeholders}, checked whole at start so a mistake stops the service with the file,
the key and the fix instead of surfacing in an owner's text message."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..model import DOG_KINDS, HEALTH_KINDS
from ..store.database import Row

DEFAULT_TEXTS = Path(__file__).with_name("notice_texts.toml")
# SPEC 6's ladder (rules/escalation.STEPS; notify may not import rules, a sibling layer)
STEPS = ("education", "warning", "penalty", "strict")
HEALTH_KEY = "notice"  # a device-health notice has no escalation step: one text per kind
STEP_LABELS = {"education": "教育引导", "warning": "警告", "penalty": "处罚", "strict": "从严处罚"}
PLACEHOLDERS = {
    "owner": "犬主姓名 the owner's name",
    "dog": "犬名 the dog's name",
    "tag": "犬牌编号 the tag's serial",
    "zone": "区域名称 the zone's name",
    "grid": "网格 the grid",
    "time": "发生时间 when it happened (city time)",
    "step": "处置步骤 the escalation step, e.g. 教育引导",
    "offence": "第几次 the violation's number in 12 months",
}
_FORMATTER = string.Formatter()


class NoticeTextsError(ValueError):
    """The texts file is missing, malformed or incomplete; the message says where and how
    to fix it."""


def keys_of(kind: str) -> tuple[str, ...]:
    return STEPS if kind in DOG_KINDS else (HEALTH_KEY,)


@dataclass(frozen=True, slots=True)
class NoticeTexts:
    path: Path
    texts: Mapping[tuple[str, str], str]  # (kind, step or "notice") -> text

    def text_for(self, kind: str, step: str | None) -> str:
        """The text of `kind` at `step`; a dog alert without a known step reads as a
        first offence (education first), a health notice has one text."""
        first = self.texts[(kind, keys_of(kind)[0])]
        return self.texts.get((kind, step or ""), first)

    def render(self, kind: str, step: str | None, values: Mapping[str, str]) -> str:
        return self.text_for(kind, step).format_map(values)


def load_texts(path: Path | None = None) -> NoticeTexts:
    """Read and check the whole file; NoticeTextsError names what to fix."""
    path = Path(path) if path is not None else DEFAULT_TEXTS

    def fail(where: str, problem: str) -> NoticeTextsError:
        return NoticeTextsError(f"notice texts {path}: {where}{problem}")

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(
            "",
            f"cannot be read ({exc.strerror or exc}); give an existing file with "
            f"--notice-texts / SMARTCITY_NOTICE_TEXTS, or leave it unset for the shipped "
            f"{DEFAULT_TEXTS.name}",
        ) from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise fail("", "is not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise fail(
            "",
            f'is not valid TOML ({exc}); each text is one line key = "text" under its [kind] table',
        ) from None
    kinds = DOG_KINDS + HEALTH_KINDS
    for key in doc:
        if key not in kinds:
            raise fail(f"[{key}]: ", f"is not an alert kind; use one of {', '.join(kinds)}")
    texts: dict[tuple[str, str], str] = {}
    for kind in kinds:
        table = doc.get(kind)
        steps = keys_of(kind)
        if not isinstance(table, dict):
            raise fail(
                f"[{kind}]: ",
                ("is missing" if table is None else "must be a table")
                + f"; add a table [{kind}] with "
                + ", ".join(f'{s} = "…"' for s in steps),
            )
        for step in table:
            if step not in steps:
                raise fail(
                    f"{kind}.{step}: ",
                    f"is not a step of {kind}; use {', '.join(steps)}",
                )
        for step in steps:
            texts[(kind, step)] = _checked(table.get(step), f"{kind}.{step}", fail, kind)
    return NoticeTexts(path, texts)


def _checked(text: Any, key: str, fail: Callable[[str, str], NoticeTextsError], kind: str) -> str:
    if text is None:
        raise fail(f"{key}: ", f'is missing; add {key.split(".")[1]} = "…" under [{kind}]')
    if not isinstance(text, str) or not text.strip():
        raise fail(f"{key}: ", 'must be a non-empty text in double quotes, e.g. "…"')
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise fail(
            f"{key}: ", f"has a stray brace ({exc}); write {{{{ and }}}} for a literal brace"
        ) from None
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            shown = "{" + name + "}" if name else "{}"
            raise fail(
                f"{key}: ",
                f"uses {shown}, which is not a placeholder; use one of {known} "
                "(or {{ and }} for a literal brace)",
            )
        if spec or conversion:
            raise fail(f"{key}: ", f"write {{{name}}} as it is, without ':' or '!' after the name")
    return text


# -- filling a notice in ------------------------------------------------------------


def local_time(ts: float, tz: ZoneInfo) -> str:
    """`11月23日 10:00` in the city's time zone (no year: a notice is about now-ish)."""
    at = datetime.fromtimestamp(ts, tz)
    return f"{at.month}月{at.day}日 {at:%H:%M}"


def notice_values(notice: Row | Mapping[str, Any], tz: ZoneInfo) -> dict[str, str]:
    """A notices row (store/notices.py, with owner_name) as the placeholders' values."""
    step = notice["escalation"]
    offence = notice["offence_number"]
    return {
        "owner": notice["owner_name"] or "犬主",
        "dog": notice["dog_name"] or notice["device_id"],
        "tag": notice["device_id"],
        "zone": notice["zone_name"] or "—",
        "grid": notice["grid"] or "—",
        "time": local_time(notice["started_at"], tz),
        "step": STEP_LABELS.get(step or "", ""),
        "offence": str(offence) if offence is not None else "",
    }


def write_notice(texts: NoticeTexts, notice: Row | Mapping[str, Any], tz: ZoneInfo) -> str:
    return texts.render(notice["kind"], notice["escalation"], notice_values(notice, tz))
