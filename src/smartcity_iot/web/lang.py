"""The reader's language on the web: the `lang` cookie the pages' switch sets (Chinese
when absent), the catalogue for the pages' script, and API errors in that language.

An error a person can fix is raised as `refuse(status, key, **params)` (or carries a
store Refusal); its JSON is `{"detail": text in the reader's language, "code": key}`,
so scripts and vendors match on `code`, never on words."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..i18n import DEFAULT_LANG, LANGS, Refusal, catalogue

LANG_COOKIE = "lang"
router = APIRouter(tags=["language"])

# pydantic's error types, by what a person is told
_VALIDATION = {
    "missing": "validation.missing",
    "string_too_short": "validation.too_short",
    "string_too_long": "validation.too_long",
    "too_short": "validation.too_short",
    "too_long": "validation.too_long",
    "int_parsing": "validation.not_a_number",
    "float_parsing": "validation.not_a_number",
    "int_type": "validation.not_a_number",
    "float_type": "validation.not_a_number",
    "finite_number": "validation.not_a_number",
    "string_type": "validation.not_text",
    "literal_error": "validation.not_allowed",
    "enum": "validation.not_allowed",
    "string_pattern_mismatch": "validation.pattern",
    "json_invalid": "validation.body",
    "model_attributes_type": "validation.body",
    "dict_type": "validation.body",
}


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "")
    return lang if lang in LANGS else DEFAULT_LANG


def refuse(status: int, key: str | Refusal, /, **params: Any) -> HTTPException:
    """An HTTPException whose detail the handler below renders in the reader's language."""
    refusal = key if isinstance(key, Refusal) else Refusal(key, **params)
    return HTTPException(status, detail=refusal)


@router.get("/api/messages")
def messages(request: Request) -> dict[str, Any]:
    """Every text of the pages in the reader's language (the `lang` cookie, zh or en)."""
    lang = lang_of(request)
    return {"lang": lang, "langs": list(LANGS), "messages": catalogue().language(lang)}


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = getattr(exc, "headers", None)
    if isinstance(exc.detail, Refusal):
        body = {"detail": exc.detail.text(lang_of(request)), "code": exc.detail.key}
    else:
        body = {"detail": exc.detail}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own handler quotes the input back and fails (a 500) on bytes that are not
    UTF-8 or a JSON Infinity: name the field and the problem, in the reader's language,
    and never echo input. `detail` keeps its list shape (loc, msg, type)."""
    lang = lang_of(request)
    texts = catalogue()
    problems = []
    for err in exc.errors():
        loc = [p if isinstance(p, str | int) else str(p) for p in err.get("loc", ())]
        kind = str(err.get("type", ""))
        ctx = err.get("ctx") or {}
        key = _VALIDATION.get(kind, "validation.invalid")
        params = {}
        if key == "validation.too_short":
            params["min"] = ctx.get("min_length", "?")
        elif key == "validation.too_long":
            params["max"] = ctx.get("max_length", "?")
        field = next((p for p in reversed(loc) if isinstance(p, str) and p != "body"), "")
        label = texts.messages.get(f"field.{field}")
        cause = ctx.get("error")
        if isinstance(cause, Refusal):  # a validator's own reason, e.g. not a mobile number
            msg = cause.text(lang)
        elif kind == "value_error":
            msg = str(err.get("msg", "")).removeprefix("Value error, ")
        else:
            msg = texts.text(key, lang, **params)
        problems.append(
            {
                "loc": loc,
                "msg": msg,
                "type": kind,
                "field": label[lang] if label else field,
            }
        )
    return JSONResponse({"detail": problems}, status_code=422)
