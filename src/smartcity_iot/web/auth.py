"""Sign-up, log-in, log-out and "who am I" for owners and operators alike."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from ..store import sessions, users
from ..store.errors import AccountError
from ..store.users import User
from .schemas import LoginIn, Me, SignupIn
from .security import SESSION_COOKIE, AnyUser, Conn, RateLimiter, client_ip

router = APIRouter(prefix="/api", tags=["accounts"])


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


@router.post(
    "/auth/signup",
    response_model=Me,
    status_code=201,
    responses={
        400: {"description": "invalid input or phone already registered"},
        429: {"description": "too many sign-ups"},
    },
)
def signup(body: SignupIn, request: Request, response: Response, conn: Conn) -> Me:
    """Create an owner account (and log it in). The phone links the account to the owner
    the registry already knows by that phone, so tags registered by the CLI show up."""
    _limiter(request).check_signup(client_ip(request))
    try:
        user = users.create_owner_account(conn, body.phone, body.name, body.password)
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from None
    return _start_session(request, response, conn, user)


@router.post(
    "/auth/login",
    response_model=Me,
    responses={
        401: {"description": "wrong login or password"},
        429: {"description": "rate limited"},
    },
)
def login(body: LoginIn, request: Request, response: Response, conn: Conn) -> Me:
    limiter, ip = _limiter(request), client_ip(request)
    limiter.check_login(body.login, ip)
    user = users.authenticate(conn, body.login, body.password)
    if user is None:
        limiter.login_failed(body.login, ip)
        raise HTTPException(401, "wrong login or password")
    limiter.login_succeeded(body.login)
    return _start_session(request, response, conn, user)


@router.post("/auth/logout", status_code=204, responses={401: {"description": "not logged in"}})
def logout(who: AnyUser, response: Response, conn: Conn) -> Response:
    sessions.end_session(conn, who.token)
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=Me, responses={401: {"description": "not logged in"}})
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
    )
