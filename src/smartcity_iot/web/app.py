"""The web app: the owners' portal and the operators' console on one FastAPI app.
Pages are static files shipped in the package (no CDN); they talk to the JSON API,
which is published at /openapi.json."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..config import Settings
from ..i18n import Refusal
from ..notify.sms import SmsGateway, sms_gateway
from ..store.broker_users import reserved_names
from ..store.sessions import session_user
from . import auth, broker_auth, lang, map_layers, notices, operator, owner, patrols, vehicles
from .bodies import BodyLimit
from .feed import AlertFeed, SessionBoundStreams
from .security import SESSION_COOKIE, AnyUser, Database, Limits, RateLimiter

STATIC = Path(__file__).parent / "static"
PAGES = {"/": "index.html", "/owner": "owner.html", "/console": "console.html"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def create_app(
    settings: Settings, limits: Limits | None = None, sms: SmsGateway | None = None
) -> FastAPI:
    feed = AlertFeed(settings.database)
    headers = dict(SECURITY_HEADERS)
    if (
        settings.map_tiles
    ):  # the configured tile server is the one outside origin images may come from
        tiles = urlsplit(settings.map_tiles)
        headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(
            "img-src 'self' data:", f"img-src 'self' data: {tiles.scheme}://{tiles.netloc}"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with feed.running():
            yield

    app = FastAPI(
        title="smartcity-iot web API",
        version=__version__,
        description="Owners register dogs and tags and see their own violations; "
        "operators handle alerts. "
        "Log in with POST /api/auth/login (session cookie), then send the csrf_token from "
        "/api/me in X-CSRF-Token on every POST.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's Swagger and ReDoc pages load their scripts from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = Database(settings.database)
    app.state.limiter = RateLimiter(limits or Limits())
    app.state.sms = sms or sms_gateway(settings)  # one-time codes to phones (SPEC 8)
    app.state.feed = feed
    app.include_router(auth.router)
    app.include_router(owner.router)
    app.include_router(notices.router)
    app.include_router(operator.router)
    app.include_router(vehicles.router)
    app.include_router(patrols.router)
    app.include_router(map_layers.router)  # streets and fixed cameras beside the zones
    if settings.broker_auth_secret:  # RabbitMQ asks here who a device is (city shape)
        app.state.reserved_broker_users = reserved_names(settings)
        app.include_router(broker_auth.router)

    @app.get("/api/zones", tags=["map"], responses={401: {"description": "not logged in"}})
    def zones(who: AnyUser) -> dict[str, Any]:
        """The zones as one GeoJSON FeatureCollection, for drawing the map client-side."""
        return {**_zones_geojson(settings.geofences), "tiles": settings.map_tiles}

    app.include_router(lang.router)  # the catalogue for the pages, in the reader's language
    app.add_exception_handler(RequestValidationError, lang.invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, lang.http_error)  # type: ignore[arg-type]

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        origin = request.headers.get("origin")
        unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
        if (
            unsafe
            and origin
            and origin != "null"
            and urlsplit(origin).netloc != request.headers.get("host")
        ):
            refusal = Refusal("error.cross_site")
            return JSONResponse(
                {"detail": refusal.text(lang.lang_of(request)), "code": refusal.key},
                status_code=403,
            )
        response = await call_next(request)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    database: Database = app.state.db

    def alive(token: str) -> bool:
        with database.lend() as conn:
            return session_user(conn, token) is not None

    app.add_middleware(SessionBoundStreams, alive=alive, cookie=SESSION_COOKIE)
    app.add_middleware(BodyLimit, max_bytes=settings.http_body_max_bytes)  # outermost

    for path, name in PAGES.items():
        app.add_api_route(path, _page(name), include_in_schema=False, methods=["GET"])
    app.add_api_route(
        "/console/alerts/{alert_id}", _page("alert.html"), include_in_schema=False, methods=["GET"]
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _page(name: str) -> Callable[..., FileResponse]:
    def page() -> FileResponse:
        return FileResponse(STATIC / name, media_type="text/html; charset=utf-8")

    page.__name__ = f"page_{name.split('.')[0]}"
    return page


def _zones_geojson(directory: Path) -> dict[str, Any]:
    keep = ("id", "name", "rule", "grid", "grade", "walking_hours", "days", "hours", "max_stop_min")
    features = []
    for path in sorted(Path(directory).glob("*.geojson")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for f in doc.get("features", []):
            props = f.get("properties") or {}
            features.append(
                {
                    "type": "Feature",
                    "geometry": f.get("geometry"),
                    "properties": {k: props[k] for k in keep if k in props},
                }
            )
    return {"type": "FeatureCollection", "features": features}
