"""Every setting of the service in one typed place; the CLI flags and the
SMARTCITY_<NAME> environment variables are generated from this model."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_PREFIX = "SMARTCITY_"
DEFAULT_DWELL_S = 60.0  # a zone's dwell and grace unless its file says otherwise (SPEC 4)
DEFAULT_GRACE_S = 60.0


def _default_geofences() -> Path:
    bundled = REPO_ROOT / "geofences"
    return bundled if bundled.is_dir() else Path("geofences")


class Settings(BaseModel):
    """Service settings. `common` fields are flags of every command."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    mqtt_url: str = Field(
        "mqtt://127.0.0.1:1883",
        description="broker URL, mqtt://[user:pass@]host:port",
        json_schema_extra={"common": True},
    )
    mqtt_protocol: Literal["5", "3.1.1"] = Field(
        "5", description="MQTT protocol version of the service's connection"
    )
    mqtt_client_id: str = Field(
        "smartcity-iot-ingest",
        description="client id of the persistent ingest session (keep it stable across restarts)",
    )
    mqtt_connect_timeout_s: float = Field(
        10.0,
        gt=0,
        description="serve: how long to wait for the broker at start before stopping "
        "with the reason (refused, unknown host, credentials)",
    )
    session_expiry_s: int = Field(
        7 * 86400, ge=60, description="how long the broker keeps our session while we are down"
    )
    engine_url: str | None = Field(
        None,
        description="city scale: tag fixes come from this RabbitMQ cluster's partition queues, "
        "amqp://[user:pass@]host:port[,host:port...][/vhost], and this serve is one of the "
        "workers that share them (default: none, the one MQTT session of --mqtt-url; alerts "
        "are published there in both cases)",
        json_schema_extra={"metavar": "URL"},
    )
    engine_partitions: int = Field(
        16,
        ge=1,
        le=1024,
        description="partition queues fixes are hashed over by tag (the same on every "
        "worker; more partitions than workers let the load spread as workers come and go)",
    )
    worker_id: str | None = Field(
        None,
        description="this worker's name among the engine's workers, unique to each "
        "(default: host name and process id)",
    )
    lease_ttl_s: float = Field(
        5.0,
        gt=0.5,
        description="a worker not heard from for this long is gone: its partitions go to "
        "the others",
    )
    pipeline_process: bool = Field(
        False,
        description="run the tag pipeline in a child process, so receiving and the pipeline "
        "do not share one interpreter lock (BENCHMARKS.md, one worker live)",
    )
    broker_auth_secret: str | None = Field(
        None,
        min_length=16,
        description="city scale: serve RabbitMQ's HTTP auth backend at "
        "/broker/auth/{secret}/{user,vhost,resource,topic}, so each tag logs in with its own "
        "credentials and may publish on its own topic only (docs/scale.md); off when unset",
    )
    geofences: Path = Field(
        default_factory=_default_geofences,
        description="zones in DIR/*.geojson, cameras in DIR/cameras/*.json",
        json_schema_extra={"common": True, "metavar": "DIR"},
    )
    data_dir: Path = Field(
        Path("data"),
        description="embedded database, evidence images, dead letters",
        json_schema_extra={"common": True, "metavar": "DIR"},
    )
    database_url: str = Field(
        "",
        description="PostgreSQL database shared by workers and the console, "
        "postgresql://user[:password]@host:port/db (default: SQLite in the data dir)",
        json_schema_extra={"common": True, "metavar": "URL"},
    )
    influx_url: str | None = Field(
        None, description="InfluxDB URL", json_schema_extra={"common": True}
    )
    influx_token: str | None = Field(
        None, description="InfluxDB token", json_schema_extra={"common": True}
    )
    influx_org: str | None = Field(
        None, description="InfluxDB organisation", json_schema_extra={"common": True}
    )
    influx_bucket: str | None = Field(
        None, description="InfluxDB bucket", json_schema_extra={"common": True}
    )
    http: str = Field(
        "127.0.0.1:8080",
        description="HOST:PORT of the web console",
        json_schema_extra={"common": True, "metavar": "HOST:PORT"},
    )
    http_body_max_bytes: int = Field(
        64 * 1024, ge=1024, description="largest web request body; a bigger one is refused (413)"
    )
    map_tiles: str | None = Field(
        None,
        description="tile server URL template for the console map, "
        "e.g. http://tiles.local/{z}/{x}/{y}.png "
        "(default: zones drawn as vectors only, fully offline)",
    )
    timezone: str = Field(
        "Asia/Shanghai",
        description="city time zone of walking hours and loading-spot windows",
        json_schema_extra={"common": True},
    )
    dwell_s: float = Field(
        DEFAULT_DWELL_S, gt=0, description="default minimum dwell before an incident opens"
    )
    grace_s: float = Field(
        DEFAULT_GRACE_S, ge=0, description="default time out (or allowed) before an incident closes"
    )
    hysteresis_m: float = Field(
        5.0, ge=0, description="metres added to a fix's accuracy radius for in/out decisions"
    )
    default_accuracy_m: float = Field(
        15.0, ge=0, description="accuracy assumed when a fix has none"
    )
    low_battery_pct: float = Field(
        20.0, ge=0, le=100, description="battery below this opens tag_low_battery"
    )
    battery_recover_pct: float = Field(
        25.0, ge=0, le=100, description="battery at or above this closes it"
    )
    offline_after_s: float = Field(
        1800.0, gt=0, description="no fix received for this long opens tag_offline"
    )
    future_tolerance_s: float = Field(
        300.0,
        ge=0,
        description="how far (s) a fix or frame may be dated after its arrival; later ones "
        "are rejected (a GPS clock is right to a second: this covers our own clock's drift)",
    )
    max_payload_bytes: int = Field(4096, gt=0, description="largest accepted tag fix payload")
    dead_letter_max: int = Field(
        10000, gt=0, description="dead letters kept (oldest dropped first)"
    )
    detector: str = Field(
        "classical",
        description="vehicle detector of fixed cameras, by name (a camera file's detector wins)",
    )
    plate_reader: str = Field(
        "ppocr",
        description="plate reader of parked vehicles, by name: ppocr, hyperlpr, or none "
        "(every plate left to the operators)",
    )
    plate_min_conf: float | None = Field(
        None,
        ge=0,
        le=1,
        description="reads below this confidence are unread, for an operator to confirm "
        "(default: the reader's measured threshold, ppocr 0.9, hyperlpr 0.8)",
    )
    patrol_same_place_m: float = Field(
        20.0, gt=0, description="mobile units: two captures of a plate this near are one place"
    )
    patrol_max_gap_s: float = Field(
        3600.0, gt=0, description="mobile units: a later capture than this is a new first sighting"
    )
    sms_gateway_url: str | None = Field(
        None,
        description="messages to phones (one-time codes, owners' notices) are POSTed here as "
        'JSON {"phone", "text"} (default: shown on the console and in the log)',
        json_schema_extra={"common": True, "metavar": "URL"},
    )
    sms_timeout_s: float = Field(5.0, gt=0, description="SMS gateway request timeout")
    sms_retries: int = Field(
        2, ge=0, le=10, description="retries of a message the SMS gateway did not take"
    )
    notice_texts: Path | None = Field(
        None,
        description="owners' notice texts, one per alert kind and escalation step "
        "(default: the shipped Chinese notify/notice_texts.toml)",
        json_schema_extra={"metavar": "FILE"},
    )
    notice_sms_per_day: int = Field(
        5,
        ge=0,
        description="most notice messages to one owner per local day; "
        "the rest show in the portal only (counted)",
    )
    notice_review_s: float = Field(
        180.0,
        ge=0,
        description="a notice's message waits this long, and is not sent if an "
        "operator dismissed the alert meanwhile",
    )
    notice_retry_s: float = Field(
        60.0,
        gt=0,
        description="first wait before retrying a notice message the SMS gateway "
        "did not take (doubling, at most an hour)",
    )
    frame_queue_max: int = Field(
        8, gt=0, description="camera frames waiting for vision; more are skipped (counted)"
    )
    batch_max: int = Field(1000, gt=0, description="most messages processed in one transaction")
    batch_wait_ms: float = Field(10.0, ge=0, description="how long a batch waits to fill")
    track_retention_days: float = Field(
        30.0, gt=0, description="days of tag fixes kept in the embedded database"
    )
    influx_spool_max: int = Field(
        2_000_000,
        gt=0,
        description="points kept on disk while InfluxDB is unreachable; "
        "beyond it the oldest are dropped (counted)",
    )
    influx_batch_points: int = Field(5000, gt=0, description="most points in one InfluxDB write")
    influx_flush_ms: float = Field(
        1000.0, ge=0, description="how long points gather before a partial InfluxDB write"
    )
    influx_retry_max_s: float = Field(
        30.0, gt=0, description="longest pause between InfluxDB retries"
    )
    influx_timeout_s: float = Field(10.0, gt=0, description="InfluxDB HTTP request timeout")

    @field_validator("sms_gateway_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value is not None and (
            urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc
        ):
            raise ValueError(f"bad URL {value!r}: expected http(s)://host[:port]/path")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        if value and (
            not value.startswith(("postgresql://", "postgres://")) or not urlsplit(value).hostname
        ):
            raise ValueError(
                "bad database URL: expected postgresql://user[:password]@host:port/db "
                "(or empty for SQLite in the data dir)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)"
            ) from exc
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parse_mqtt_url(value)
        return value

    @field_validator("engine_url")
    @classmethod
    def _engine_url(cls, value: str | None) -> str | None:
        if value:
            parse_engine_url(value)
        return value or None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "smartcity.db"

    @property
    def database(self) -> Path | str:
        """Where the store is: the PostgreSQL URL when set, else the SQLite file."""
        return self.database_url or self.db_path


class MqttTarget(BaseModel):
    host: str
    port: int
    username: str | None = None
    password: str | None = None


def parse_mqtt_url(url: str) -> MqttTarget:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"bad MQTT URL {url!r}: expected mqtt://[user:pass@]host:port")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise ValueError(f"bad MQTT URL {url!r}: port must be a number") from exc
    return MqttTarget(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class EngineTarget(BaseModel):
    hosts: list[tuple[str, int]]
    vhost: str = "/"
    username: str = "guest"
    password: str = "guest"


def parse_engine_url(url: str) -> EngineTarget:
    """amqp://[user:pass@]host:port[,host:port...][/vhost]: the cluster's nodes, tried in
    turn (a node that is down is skipped)."""
    from urllib.parse import unquote

    scheme, sep, rest = url.partition("://")
    hint = "expected amqp://[user:pass@]host:port[,host:port...][/vhost]"
    if scheme != "amqp" or not sep or not rest:
        raise ValueError(f"bad engine URL {url!r}: {hint}")
    creds, at, nodes = rest.rpartition("@")
    nodes, slash, vhost = nodes.partition("/")
    hosts = []
    for node in nodes.split(","):
        host, colon, port = node.strip().rpartition(":")
        if not colon:
            host, port = port, "5672"
        if not host or not port.isdigit():
            raise ValueError(f"bad engine URL {url!r}: node {node!r} is not host:port; {hint}")
        hosts.append((host, int(port)))
    user, _, password = creds.partition(":") if at else ("guest", "", "guest")
    return EngineTarget(
        hosts=hosts,
        vhost=unquote(vhost) if slash and vhost else "/",
        username=unquote(user),
        password=unquote(password),
    )


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def field_is_common(name: str) -> bool:
    extra = Settings.model_fields[name].json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("common"))


def load_settings(
    overrides: dict[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults < SMARTCITY_* environment < explicit overrides (CLI flags)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        if env_name(name) in environ:
            values[name] = environ[env_name(name)]
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"{flag_name(field)} / {env_name(field)}: {err['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None


class SettingsError(ValueError):
    pass
