"""Sending a one-time code to a phone through the SMS gateway of SPEC 8: rate limited
per phone and per address, the text in Chinese with the code as its only six-digit
number, and withdrawn again when the gateway does not take it."""

from __future__ import annotations

from fastapi import Request

from ..notify.sms import SmsError, SmsGateway
from ..phones import mask_phone
from ..store import codes
from ..store.database import Connection
from .lang import refuse
from .schemas import CodeSent
from .security import RateLimiter, client_ip

TEXTS = {
    "signup": "【智慧城管】您的注册验证码为 {code}，{minutes}分钟内有效，请勿告诉他人。"
    "如非本人操作，请忽略本短信。",
    "reset": "【智慧城管】您正在重置犬主服务密码，验证码为 {code}，{minutes}分钟内有效。"
    "如非本人操作，请忽略本短信，您的密码不会改变。",
    "verify": "【智慧城管】您的手机验证码为 {code}，{minutes}分钟内有效，用于确认本机号码。",
}


def code_text(purpose: str, code: str) -> str:
    return TEXTS[purpose].format(code=code, minutes=int(codes.CODE_TTL_S // 60))


def send_code(
    request: Request, conn: Connection, phone: str, purpose: str, *, deliver: bool = True
) -> CodeSent:
    """Count the request, then (when `deliver`) make a code and send it. `deliver=False`
    answers the same without sending (a reset for a phone that has no account)."""
    limiter: RateLimiter = request.app.state.limiter
    limiter.check_code_request(conn, phone, purpose, client_ip(request))
    if deliver:
        code = codes.issue(conn, phone, purpose)
        gateway: SmsGateway = request.app.state.sms
        try:
            gateway.send(phone, code_text(purpose, code))
        except SmsError:
            codes.withdraw(conn, phone, purpose)
            raise refuse(503, "account.sms_down") from None
    return CodeSent(
        phone=mask_phone(phone),
        expires_in_s=int(codes.CODE_TTL_S),
        resend_after_s=int(limiter.limits.code_resend_s),
    )
