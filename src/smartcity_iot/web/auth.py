"""Accounts for owners and operators alike: sign-up with a one-time code sent to the
phone (so no account exists for a phone nobody proved), log-in, log-out, sign out
everywhere, password change and reset through a code, and "who am I".

An owner account from before codes existed must prove its phone (verify) before
it sees anything of the registry's owner of that phone (security.owner)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ..store import sessions, users
from ..store.codes import CodeError, PhoneProof, redeem
from ..store.errors import AccountError
from ..store.passwords import check_password
from ..store.users import User
from .codes import send_code
from .lang import refuse
from .schemas import CodeIn, CodeSent, LoginIn, Me, PasswordChangeIn, ResetIn, SignupIn, VerifyIn
from .security import SESSION_COOKIE, AnyUser, Conn, RateLimiter, client_ip

router = APIRouter(prefix="/api", tags=["accounts"])

Responses = dict[int | str, dict[str, Any]]
LIMITED: Responses = {429: {"description": "rate limited (Retry-After says for how long)"}}
SMS_DOWN: Responses = {503: {"description": "the SMS gateway did not take the code"}}
NO_SESSION: Responses = {401: {"description": "not logged in"}}


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


def _start_session(request: Request, response: Response, conn: Conn, user: User) -> Me:
    old = request.cookies.get(SESSION_COOKIE)
    if old:  # a new id on every login: a planted cookie (session fixation) dies here
        sessions.end_session(conn, old)
    token, csrf = sessions.new_session(conn, user)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(sessions.SESSION_TTL_S),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return _me(request, user, csrf)


def _password_ok(password: str) -> None:
    """Before a code is spent: a weak password should not cost the user their code."""
    try:
        check_password(password)
    except AccountError as exc:
        raise refuse(400, exc) from None


def _redeem(conn: Conn, phone: str, purpose: str, code: str) -> PhoneProof:
    try:
        return redeem(conn, phone, purpose, code)
    except CodeError as exc:
        raise refuse(400, exc) from None


@router.post(
    "/auth/signup/code",
    response_model=CodeSent,
    status_code=202,
    responses={400: {"description": "this phone already has an account"}, **LIMITED, **SMS_DOWN},
)
def signup_code(body: CodeIn, request: Request, conn: Conn) -> CodeSent:
    """Step 1 of sign-up: a six-digit code is sent to the phone (valid 10 minutes)."""
    if users.owner_account_exists(conn, body.phone):
        raise refuse(400, "account.phone_taken")
    return send_code(request, conn, body.phone, "signup")


@router.post(
    "/auth/signup",
    response_model=Me,
    status_code=201,
    responses={
        400: {"description": "wrong code, weak password or phone already registered"},
        **LIMITED,
    },
)
def signup(body: SignupIn, request: Request, response: Response, conn: Conn) -> Me:
    """Step 2: create the owner account with the code (and log it in). The proven phone
    links the account to the owner the registry already knows by it, so tags
    registered by the CLI show up."""
    _password_ok(body.password)
    _limiter(request).check_signup(conn, client_ip(request))
    proof = _redeem(conn, body.phone, "signup", body.code)
    try:
        user = users.create_owner_account(conn, proof, body.name, body.password)
    except AccountError as exc:
        raise refuse(400, exc) from None
    return _start_session(request, response, conn, user)


@router.post(
    "/auth/login",
    response_model=Me,
    responses={401: {"description": "wrong login or password"}, **LIMITED},
)
def login(body: LoginIn, request: Request, response: Response, conn: Conn) -> Me:
    limiter = _limiter(request)
    attempt = limiter.begin_login(conn, body.login, client_ip(request))
    user = users.authenticate(conn, body.login, body.password)
    if user is None:
        raise refuse(401, "account.login_wrong")
    limiter.login_succeeded(conn, attempt)
    return _start_session(request, response, conn, user)


@router.post("/auth/logout", status_code=204, responses=NO_SESSION)
def logout(who: AnyUser, response: Response, conn: Conn) -> Response:
    sessions.end_session(conn, who.token)
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/auth/logout-all", status_code=204, responses=NO_SESSION)
def logout_everywhere(who: AnyUser, response: Response, conn: Conn) -> Response:
    """Sign out everywhere: every session of this account ends, and its open streams."""
    sessions.end_user_sessions(conn, who.user.id)
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post(
    "/auth/password",
    status_code=204,
    responses={400: {"description": "old password wrong or new one weak"}, **NO_SESSION, **LIMITED},
)
def change_password(
    body: PasswordChangeIn, who: AnyUser, request: Request, response: Response, conn: Conn
) -> Response:
    """Needs the old password (counted like a log-in); the other sessions end, this one stays."""
    _password_ok(body.new_password)
    limiter = _limiter(request)
    attempt = limiter.begin_login(conn, who.user.login, client_ip(request))
    try:
        users.change_password(
            conn, who.user, body.old_password, body.new_password, sessions.token_hash(who.token)
        )
    except AccountError as exc:
        raise refuse(400, exc) from None
    limiter.login_succeeded(conn, attempt)
    response.status_code = 204
    return response


@router.post(
    "/auth/reset/code", response_model=CodeSent, status_code=202, responses={**LIMITED, **SMS_DOWN}
)
def reset_code(body: CodeIn, request: Request, conn: Conn) -> CodeSent:
    """Forgot the password: a code goes to the phone when it has an account (the answer
    is the same either way)."""
    return send_code(
        request, conn, body.phone, "reset", deliver=users.owner_account_exists(conn, body.phone)
    )


@router.post(
    "/auth/reset",
    response_model=Me,
    responses={400: {"description": "wrong code, weak password or no such account"}},
)
def reset(body: ResetIn, request: Request, response: Response, conn: Conn) -> Me:
    """A new password with the code; every session of the account ends, then this one
    starts. It also proves the phone of an account made before codes."""
    _password_ok(body.password)
    proof = _redeem(conn, body.phone, "reset", body.code)
    try:
        user = users.reset_password(conn, proof, body.password)
    except AccountError as exc:
        raise refuse(400, exc) from None
    return _start_session(request, response, conn, user)


@router.post(
    "/auth/verify/code",
    response_model=CodeSent,
    status_code=202,
    responses={400: {"description": "nothing to verify"}, **NO_SESSION, **LIMITED, **SMS_DOWN},
)
def verify_code(who: AnyUser, request: Request, conn: Conn) -> CodeSent:
    """An owner account made before codes: a code to its phone, to prove it."""
    if who.user.role != "owner" or who.user.phone_verified:
        raise refuse(400, "account.phone_already_proven")
    return send_code(request, conn, who.user.login, "verify")


@router.post(
    "/auth/verify",
    response_model=Me,
    responses={400: {"description": "wrong code"}, **NO_SESSION},
)
def verify(body: VerifyIn, who: AnyUser, request: Request, conn: Conn) -> Me:
    proof = _redeem(conn, who.user.login, "verify", body.code)
    try:
        user = users.verify_phone(conn, who.user, proof)
    except AccountError as exc:
        raise refuse(400, exc) from None
    return _me(request, user, who.csrf)


@router.get("/me", response_model=Me, responses=NO_SESSION)
def me(who: AnyUser, request: Request) -> Me:
    return _me(request, who.user, who.csrf)


def _me(request: Request, u: User, csrf: str) -> Me:
    return Me(
        id=u.id,
        role=u.role,  # type: ignore[arg-type]
        login=u.login,
        name=u.name,
        csrf_token=csrf,
        timezone=request.app.state.settings.timezone,
        phone_verified=u.phone_verified,
    )
