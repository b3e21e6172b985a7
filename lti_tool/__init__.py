"""Beeldcoach: an LTI 1.3 tool for video coaching (beeldbegeleiding) in schools."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel
from flask_migrate import Migrate
from werkzeug.middleware.proxy_fix import ProxyFix

from lti_tool.db import db
from lti_tool.settings import Settings, flask_config, load_settings

LOCALES = ("nl", "en")
babel = Babel()
migrate = Migrate()


def migrations_dir() -> str:
    """The Alembic scripts: shipped as lti_tool/migrations, or the checkout's migrations/."""
    packaged = Path(__file__).parent / "migrations"
    if (packaged / "env.py").exists():
        return str(packaged)
    return str(Path(__file__).resolve().parent.parent / "migrations")


def select_locale() -> str:
    """English on request (?lang=en, remembered), else the platform's locale, else Dutch."""
    from lti_tool.launch.session import current_launch

    if not has_request_context():  # tasks and the CLI speak the default language
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    asked = request.args.get("lang")
    if asked in LOCALES:
        session["lang"] = asked
        return asked
    if session.get("lang") in LOCALES:
        return str(session["lang"])
    launch = current_launch()
    if launch is not None:
        locale = str(launch.claims.get("locale") or "")
        if locale[:2] in LOCALES:
            return locale[:2]
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def create_app(overrides: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """The application factory: settings, extensions, blueprints."""
    settings = settings or load_settings(**(overrides or {}))
    # static_folder=None: the web blueprint serves /static itself.
    app = Flask(
        __name__,
        instance_path=settings.instance_path,
        instance_relative_config=True,
        static_folder=None,
    )
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(flask_config(settings))
    from lti_tool.launch.session import IframeSessionInterface

    app.session_interface = IframeSessionInterface()
    logging.getLogger("lti_tool").setLevel(logging.INFO)

    if settings.proxy_fix:
        n = settings.proxy_fix
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n
        )

    db.init_app(app)
    migrate.init_app(app, db, directory=migrations_dir())
    babel.init_app(app, locale_selector=select_locale)

    # Models must be imported for Alembic and relationships to see them.
    from lti_tool import jobs as _jobs  # noqa: F401
    from lti_tool.cycles import models as _cycles_models  # noqa: F401
    from lti_tool.launch import models as _launch_models  # noqa: F401
    from lti_tool.launch.views import bp as lti_bp
    from lti_tool.media import models as _media_models  # noqa: F401
    from lti_tool.outcomes import models as _outcomes_models  # noqa: F401
    from lti_tool.people import models as _people_models  # noqa: F401
    from lti_tool.privacy import models as _privacy_models  # noqa: F401
    from lti_tool.web.admin import bp as admin_bp
    from lti_tool.web.api import bp as api_bp
    from lti_tool.web.footage import bp as footage_bp
    from lti_tool.web.media import bp as media_bp
    from lti_tool.web.player_api import bp as player_api_bp
    from lti_tool.web.pop import bp as pop_bp
    from lti_tool.web.privacy import bp as privacy_bp
    from lti_tool.web.report import bp as report_bp
    from lti_tool.web.trajects import bp as trajects_bp
    from lti_tool.web.views import bp as web_bp

    for blueprint in (
        lti_bp, web_bp, trajects_bp, report_bp, admin_bp, api_bp, footage_bp, player_api_bp,
        media_bp, pop_bp, privacy_bp,
    ):  # fmt: skip
        app.register_blueprint(blueprint)
    from lti_tool.web.auth import register_error_handlers

    register_error_handlers(app)
    if settings.demo_enabled:
        from lti_tool.demo.views import bp as demo_bp

        app.register_blueprint(demo_bp)

    from lti_tool.worker import celery_init_app

    celery_init_app(app)

    from lti_tool.privacy.headers import init_security_headers
    from lti_tool.privacy.ratelimit import init_rate_limits

    # Content-Security-Policy (frame-ancestors: the registered platforms), HSTS, referrer and
    # sniffing rules; rate limits on launch and upload (privacy/headers.py, ratelimit.py).
    init_security_headers(app)
    init_rate_limits(app)
    return app


# Paths that carry a signed token as a segment (media links): the token is replaced in logs.
_PATH_TOKEN = re.compile(r"(/media/(?:s|hls|vtt)/)[^/\s?]+")


def redact(text: str) -> str:
    """A request line or path without tokens: no query string, no signed path segment."""
    text = re.sub(r"(\S+?)\?\S*", r"\1?…", text, count=1)
    return _PATH_TOKEN.sub(r"\1…", text)


class _NoQueryStrings(logging.Filter):
    """Request lines (the development server's, gunicorn's access log) without tokens: no query
    strings (launch and start tokens) and no signed media path segments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            # Request lines may come wrapped in colour codes (werkzeug colours by status).
            record.args = tuple(
                redact(a) if isinstance(a, str) and " HTTP/" in a else a for a in record.args
            )
        elif isinstance(record.args, dict):  # gunicorn's access log atoms
            record.args = {
                k: ("…" if k == "q" and v else redact(v))
                if isinstance(v, str) and k in ("r", "U", "q")
                else v
                for k, v in record.args.items()
            }
        return True


logging.getLogger("werkzeug").addFilter(_NoQueryStrings())
logging.getLogger("gunicorn.access").addFilter(_NoQueryStrings())
