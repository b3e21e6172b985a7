"""Typed settings: embedded defaults, then BEELDCOACH_* environment variables, then overrides.

This module is the only reader of BEELDCOACH_* variables (see docs/configuration.md and
shared CONTRACT.md for the public list).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "BEELDCOACH_"


@dataclass
class Settings:
    """Every setting the tool reads, with its embedded default."""

    env: str = "development"  # "production" turns the demo platform off and hardens defaults
    instance_path: str = ""
    database_url: str = ""
    broker_url: str = ""  # empty: embedded filesystem broker in the instance folder
    media_dir: str = ""
    secret_key: str = ""
    base_url: str = ""  # public base URL; empty: derived from the request (behind ProxyFix)
    demo: bool | None = None  # None: on for the embedded default only; never in production
    proxy_fix: int = 1  # number of trusted proxies setting X-Forwarded-*
    oidc_state_ttl: int = 600  # seconds a login's state and nonce stay valid
    jwt_leeway: int = 60  # clock skew accepted on iat/exp/nbf, both ways
    jwks_cache_ttl: int = 3600  # seconds a platform key set is trusted before refetch
    jwks_refetch_interval: int = 10  # minimum seconds between refetches for an unknown kid
    launch_ttl: int = 8 * 3600  # how long a launch (and its API token) stays usable
    key_overlap_days: int = 7  # a rotated-out tool key stays in the JWKS this long
    default_locale: str = "nl"
    # Hosts allowed to register by LTI Dynamic Registration, comma separated ("*" for any).
    # Empty: any host in development, none in production (an operator must opt in).
    registration_hosts: str = ""
    storage: str = "local"  # where media live: "local" (media_dir) or "s3" (the s3_* settings)
    s3_bucket: str = ""  # the bucket holding recordings and renditions (storage = "s3")
    s3_endpoint_url: str = ""  # an S3-compatible server (MinIO, Garage...); empty: AWS itself
    s3_region: str = "us-east-1"  # the bucket's region (signing needs it even off AWS)
    s3_prefix: str = ""  # a folder inside the bucket for every key, e.g. "beeldcoach/"
    media_url_ttl: int = 900  # seconds a signed media URL stays valid
    # nginx internal location for X-Accel-Redirect, e.g. "/protected-media/"; empty: the app
    # sends the bytes itself (fine for development, slow under load: see config/nginx.conf).
    media_accel_prefix: str = ""
    upload_dir: str = ""  # tus staging folder; empty: uploads/ in the instance folder
    upload_max_bytes: int = 8 * 1024**3  # the largest recording one may upload
    upload_expiry_hours: int = 72  # an unfinished upload is purged this long after it began
    # Privacy (docs/privacy.md). One audit row per person, item and launch per this many seconds.
    audit_view_window: int = 600
    # Requests per minute per client address; 0 turns a limit off. Generous: a school behind
    # one NAT address launches together at 8:30.
    rate_limit_launch: int = 600  # /lti/login and /lti/launch
    rate_limit_upload: int = 1200  # /api/uploads (creation and every chunk)
    # Where the limiter counts: "redis" (the broker's Redis), "database", or "" (Redis when the
    # broker is Redis, else the database).
    rate_limit_storage: str = ""
    hsts_max_age: int = 365 * 24 * 3600  # Strict-Transport-Security on https answers
    export_ttl_hours: int = 72  # a personal-data export can be downloaded this long
    retention_hour: int = 3  # the daily retention job runs at this hour (UTC)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def registration_allowed(self, host: str) -> bool:
        allowed = [h.strip().lower() for h in self.registration_hosts.split(",") if h.strip()]
        if not allowed:
            return not self.is_production
        return "*" in allowed or host.lower() in allowed

    @property
    def demo_enabled(self) -> bool:
        """The demo platform: never in production; otherwise on for the embedded default
        (SQLite) unless turned off, and on a server database only when asked for. It also
        answers only on loopback addresses (see lti_tool/demo/views.py)."""
        if self.is_production or self.demo is False:
            return False
        return self.demo is True or self.database_url.startswith("sqlite")


def _coerce(value: str, current: Any) -> Any:
    if isinstance(current, bool) or current is None:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(value)
    return value


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, the environment and explicit overrides (in that order)."""
    environ = dict(os.environ if environ is None else environ)
    settings = Settings()
    for name, current in asdict(settings).items():
        if name == "extra":
            continue
        raw = environ.get(PREFIX + name.upper())
        if raw is not None and raw != "":
            setattr(settings, name, _coerce(raw, current))
    for name, value in overrides.items():
        if hasattr(settings, name):
            setattr(settings, name, value)
        else:
            settings.extra[name] = value

    instance = Path(settings.instance_path or Path.cwd() / "instance").resolve()
    settings.instance_path = str(instance)
    if not settings.database_url:
        settings.database_url = f"sqlite:///{instance / 'beeldcoach.db'}"
    if not settings.media_dir:
        settings.media_dir = str(instance / "media")
    if not settings.upload_dir:
        settings.upload_dir = str(instance / "uploads")
    if not settings.secret_key:
        settings.secret_key = _instance_secret(instance)
    return settings


def _instance_secret(instance: Path) -> str:
    """A secret key generated once into the instance folder (embedded default only)."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        token = secrets.token_urlsafe(48)
        # O_EXCL: two processes starting at once agree on one key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(token)
    return path.read_text().strip()


def flask_config(settings: Settings) -> dict[str, Any]:
    """Translate settings into the Flask/extension configuration keys."""
    secure_cookies = True
    # Recycle connections before servers or proxies drop them, instead of a pre-ping round
    # trip on every checkout (measured: two extra round trips per launch).
    engine_options: dict[str, Any] = {"pool_recycle": 1800}
    if settings.database_url.startswith("sqlite"):
        # Several threads (web server) and processes (worker) share the file.
        engine_options = {"connect_args": {"timeout": 30}}
    return {
        "SECRET_KEY": settings.secret_key,
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        # The tool lives in the platform's iframe: its cookies are third-party there.
        "SESSION_COOKIE_NAME": "beeldcoach_session",
        "SESSION_COOKIE_SAMESITE": "None",
        "SESSION_COOKIE_SECURE": secure_cookies,
        "SESSION_COOKIE_PARTITIONED": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": settings.launch_ttl,
        "BABEL_DEFAULT_LOCALE": settings.default_locale,
        "BABEL_TRANSLATION_DIRECTORIES": "web/translations",
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "BEELDCOACH": settings,
    }
