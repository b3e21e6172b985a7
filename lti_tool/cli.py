"""The `beeldcoach` command group (a Flask CLI group): db, platform, keys, media, serve, worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from lti_tool import create_app
from lti_tool.db import db


def _create_app(*_: Any) -> Any:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Beeldcoach: an LTI 1.3 tool for video coaching in schools."""


# --- platform -----------------------------------------------------------------------------


@main.group()
def platform() -> None:
    """Register learning platforms (issuer + client id, with their deployments)."""


@platform.command("add")
@click.option("--issuer", required=True, help="The platform's issuer (iss), e.g. its site URL.")
@click.option("--client-id", required=True, help="The client id the platform gave the tool.")
@click.option(
    "--deployment-id",
    "deployment_ids",
    multiple=True,
    required=True,
    help="A deployment id; repeat for several.",
)
@click.option("--auth-login-url", required=True, help="The platform's OIDC authorization URL.")
@click.option("--auth-token-url", required=True, help="The platform's OAuth2 token URL.")
@click.option("--key-set-url", required=True, help="The platform's public key set (JWKS) URL.")
@click.option("--auth-audience", default=None, help="Audience for token requests, if not the URL.")
@click.option("--name", default=None, help="A name to recognise the platform by.")
@with_appcontext
def platform_add(
    issuer: str,
    client_id: str,
    deployment_ids: tuple[str, ...],
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    auth_audience: str | None,
    name: str | None,
) -> None:
    """Add a registration, or update it and add deployments when it exists."""
    from lti_tool.launch.models import Platform
    from lti_tool.launch.registration import add_deployment

    for url in (auth_login_url, auth_token_url, key_set_url):
        if not url.startswith(("https://", "http://")):
            raise click.BadParameter(f"not an http(s) URL: {url}")
    found = db.session.scalar(
        sa.select(Platform).where(Platform.issuer == issuer, Platform.client_id == client_id)
    )
    created = found is None
    record = found or Platform(issuer=issuer, client_id=client_id, source="cli")
    record.name = name or record.name
    record.auth_login_url = auth_login_url
    record.auth_token_url = auth_token_url
    record.key_set_url = key_set_url
    record.auth_audience = auth_audience
    record.jwks = None
    record.jwks_fetched_at = None
    db.session.add(record)
    db.session.flush()
    for deployment_id in deployment_ids:
        add_deployment(record, deployment_id)
    db.session.commit()
    click.echo(
        f"{'added' if created else 'updated'} platform {record.id}: {issuer} "
        f"client_id={client_id} deployments={','.join(deployment_ids)}"
    )


@platform.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def platform_list(as_json: bool) -> None:
    """List registrations with their deployments."""
    from lti_tool.launch.models import Platform

    rows = db.session.scalars(sa.select(Platform).order_by(Platform.issuer, Platform.client_id))
    data: list[dict[str, Any]] = [
        {
            "id": p.id,
            "name": p.name,
            "issuer": p.issuer,
            "client_id": p.client_id,
            "deployments": [d.deployment_id for d in p.deployments],
            "auth_login_url": p.auth_login_url,
            "auth_token_url": p.auth_token_url,
            "key_set_url": p.key_set_url,
            "source": p.source,
        }
        for p in rows
    ]
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    if not data:
        click.echo("no platforms registered")
    for p in data:
        click.echo(
            f"{p['id']}\t{p['issuer']}\tclient_id={p['client_id']}\t"
            f"deployments={','.join(p['deployments']) or '-'}\t{p['name'] or ''}\t({p['source']})"
        )


@platform.command("remove")
@click.option("--issuer", required=True)
@click.option("--client-id", default=None, help="Needed when the issuer has several clients.")
@click.option("--deployment-id", default=None, help="Remove only this deployment.")
@with_appcontext
def platform_remove(issuer: str, client_id: str | None, deployment_id: str | None) -> None:
    """Remove a registration (with its courses and launches), or one of its deployments."""
    from lti_tool.launch.models import Deployment, Platform

    query = sa.select(Platform).where(Platform.issuer == issuer)
    if client_id:
        query = query.where(Platform.client_id == client_id)
    matches = db.session.scalars(query).all()
    if not matches:
        raise click.ClickException(f"no platform with issuer {issuer}")
    if len(matches) > 1:
        raise click.ClickException("several client ids for this issuer: give --client-id")
    record = matches[0]
    if deployment_id:
        dep = db.session.scalar(
            sa.select(Deployment).where(
                Deployment.platform_id == record.id, Deployment.deployment_id == deployment_id
            )
        )
        if dep is None:
            raise click.ClickException(f"no deployment {deployment_id}")
        db.session.delete(dep)
        db.session.commit()
        click.echo(f"removed deployment {deployment_id} of {issuer}")
        return
    db.session.delete(record)
    db.session.commit()
    click.echo(f"removed platform {issuer} client_id={record.client_id}")


# --- keys ---------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """The tool's signing keys (published at /lti/jwks)."""


@keys.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Sign with the published next key; keep the previous one in the JWKS for a while."""
    from lti_tool.launch.keys import rotate_keys

    settings = current_app.config["BEELDCOACH"]
    key = rotate_keys(settings.key_overlap_days)
    db.session.commit()
    click.echo(
        f"current key is now {key.kid}; previous key stays published "
        f"for {settings.key_overlap_days} days"
    )


@keys.command("renew")
@click.option("--yes", is_flag=True, help="Retire the unreadable keys without asking.")
@with_appcontext
def keys_renew(yes: bool) -> None:
    """After a lost or changed secret key: retire the keys it cannot read, make new ones."""
    from lti_tool.launch.keys import readable, renew_keys, secret_fingerprint
    from lti_tool.launch.models import ToolKey

    unreadable = [
        k.kid
        for k in db.session.scalars(
            sa.select(ToolKey).where(ToolKey.status.in_(("next", "current", "previous")))
        )
        if not readable(k)
    ]
    if unreadable and not yes:
        # Run on a machine without the shared secret key, this would retire good keys.
        click.confirm(
            f"{len(unreadable)} key(s) cannot be read with this machine's secret key "
            f"(fingerprint {secret_fingerprint()}). Compare the fingerprint with "
            "`beeldcoach keys list` on a machine that works. Retire them and make new ones?",
            abort=True,
        )
    retired = renew_keys()
    db.session.commit()
    if retired:
        click.echo(f"retired {len(retired)} unreadable key(s): {', '.join(retired)}; new keys made")
    else:
        click.echo("every key is readable with this secret key; nothing changed")


@keys.command("list")
@with_appcontext
def keys_list() -> None:
    """List the tool's keys and their state."""
    from lti_tool.launch.keys import ensure_keys, readable, secret_fingerprint
    from lti_tool.launch.models import ToolKey

    ensure_keys()
    db.session.commit()
    click.echo(f"secret key fingerprint: {secret_fingerprint()}")
    for key in db.session.scalars(sa.select(ToolKey).order_by(ToolKey.id)):
        state = "readable" if readable(key) else "UNREADABLE with this secret key"
        click.echo(f"{key.kid}\t{key.status}\tcreated {key.created_at:%Y-%m-%d %H:%M}\t{state}")


# --- running ------------------------------------------------------------------------------


def _worker_argv(
    loglevel: str = "INFO", concurrency: int | None = None, beat: bool = False
) -> list[str]:
    argv = ["worker", f"--loglevel={loglevel}"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if beat:
        argv.append("--beat")
    return argv


@main.group()
def demo() -> None:
    """The built-in demo school (development only)."""


@demo.command("seed")
@with_appcontext
def demo_seed() -> None:
    """Create the demo school's people, course and trajects (idempotent)."""
    from lti_tool.demo.seed import SeedRefused, seed_demo

    try:
        seed_demo()
    except SeedRefused as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo("demo school ready")


# --- media ----------------------------------------------------------------------------------


@main.group()
def media() -> None:
    """The video pipeline, for operators and support."""


@media.command("transcode")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.argument("out_dir", metavar="OUTDIR", type=click.Path(file_okay=False))
def media_transcode(input_path: str, out_dir: str) -> None:
    """Run the pipeline on one file without the web app: a JSON summary on stdout (remux or
    re-encode, durations, files written), or a clear message and a non-zero exit."""
    from lti_tool.media.transcode import main as transcode

    sys.exit(transcode([input_path, out_dir]))


# --- privacy --------------------------------------------------------------------------------


@main.group()
def privacy() -> None:
    """Retention and the audit log, for operators (docs/privacy.md)."""


@privacy.command("retention")
@click.option("--dry-run", is_flag=True, help="List what would go and when; delete nothing.")
@with_appcontext
def privacy_retention(dry_run: bool) -> None:
    """Run the retention rules now (the daily job does the same), or list them (--dry-run):
    one JSON object per line (item, reason, due date, held)."""
    from lti_tool.privacy.retention import plan, run

    if dry_run:
        for item in plan():
            click.echo(json.dumps(item.as_json()))
        return
    done = run()
    if done is None:
        raise click.ClickException("another retention run is in progress")
    click.echo(json.dumps({"run": done.id, "deleted": done.deleted, "held": done.held}))


@main.command("worker")
@click.option("--loglevel", default="INFO")
@click.option("--concurrency", type=int, default=None, help="Processes (default: CPU count).")
@click.option(
    "--beat", is_flag=True, help="Also run the periodic jobs (daily retention); on one worker only."
)
@with_appcontext
def worker(loglevel: str, concurrency: int | None, beat: bool) -> None:
    """Run a Celery worker against the configured broker."""
    celery_app = current_app.extensions["celery"]
    celery_app.worker_main(_worker_argv(loglevel, concurrency, beat))


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
@click.option("--no-worker", is_flag=True, help="Do not start the embedded worker.")
@with_appcontext
def serve(host: str, port: int, no_worker: bool) -> None:
    """Run the web app and an embedded worker (the embedded default: one machine, no servers)."""
    from flask_migrate import upgrade

    settings = current_app.config["BEELDCOACH"]
    if settings.is_production and settings.demo is True:
        raise click.ClickException(
            "the demo platform cannot run with production settings "
            "(unset BEELDCOACH_DEMO or BEELDCOACH_ENV=production)"
        )
    upgrade(directory=current_app.extensions["migrate"].directory)
    if settings.demo_enabled:
        from lti_tool.demo.seed import seed_demo

        seed_demo(f"http://127.0.0.1:{port}/demo")
        db.session.commit()

    env = dict(os.environ, BEELDCOACH_INSTANCE_PATH=settings.instance_path)
    worker_proc = None
    if not no_worker:
        # With beat: the embedded default has no other scheduler for the daily retention run.
        worker_proc = subprocess.Popen(
            [sys.executable, "-m", "lti_tool.cli", "worker", "--concurrency=1", "--beat"],
            env=env,
        )

    def stop(*_: Any) -> None:
        if worker_proc and worker_proc.poll() is None:
            worker_proc.terminate()
            try:
                worker_proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker_proc.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host  # noqa: S104
    click.echo(f"Beeldcoach runs at http://{shown}:{port}/")
    if settings.demo_enabled:
        demo_host = "127.0.0.1" if shown == "localhost" else shown
        click.echo(f"Try it: open the demo platform at http://{demo_host}:{port}/demo/")
    from werkzeug.serving import run_simple

    try:
        run_simple(
            host,
            port,
            current_app._get_current_object(),  # type: ignore[attr-defined]
            threaded=True,
            use_reloader=False,
            use_debugger=False,
        )
    finally:
        stop()


if __name__ == "__main__":
    main()
