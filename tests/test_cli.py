"""The `beeldcoach` command line: platform registrations and migrations from any directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def test_platform_add_list_remove(cli: Any) -> None:
    args = [
        "platform", "add", "--issuer", "https://moodle.school.example", "--client-id", "abc",
        "--deployment-id", "1", "--deployment-id", "2",
        "--auth-login-url", "https://moodle.school.example/mod/lti/auth.php",
        "--auth-token-url", "https://moodle.school.example/mod/lti/token.php",
        "--key-set-url", "https://moodle.school.example/mod/lti/certs.php", "--name", "School",
    ]  # fmt: skip
    added = cli(*args)
    assert added.exit_code == 0, added.output
    assert "added platform" in added.output

    listed = json.loads(cli("platform", "list", "--json").output)
    mine = [p for p in listed if p["issuer"] == "https://moodle.school.example"]
    assert len(mine) == 1
    assert mine[0]["deployments"] == ["1", "2"]
    assert mine[0]["name"] == "School"

    again = cli(*args[:-2], "--deployment-id", "3")
    assert "updated platform" in again.output
    listed = json.loads(cli("platform", "list", "--json").output)
    mine = [p for p in listed if p["issuer"] == "https://moodle.school.example"]
    assert mine[0]["deployments"] == ["1", "2", "3"]

    removed = cli("platform", "remove", "--issuer", "https://moodle.school.example",
                  "--deployment-id", "2")  # fmt: skip
    assert removed.exit_code == 0
    listed = json.loads(cli("platform", "list", "--json").output)
    assert [p for p in listed if p["issuer"] == "https://moodle.school.example"][0][
        "deployments"
    ] == ["1", "3"]
    removed = cli("platform", "remove", "--issuer", "https://moodle.school.example")
    assert removed.exit_code == 0
    listed = json.loads(cli("platform", "list", "--json").output)
    assert not [p for p in listed if p["issuer"] == "https://moodle.school.example"]


def test_platform_add_refuses_bad_urls(cli: Any) -> None:
    result = cli(
        "platform", "add", "--issuer", "x", "--client-id", "c", "--deployment-id", "d",
        "--auth-login-url", "javascript:alert(1)", "--auth-token-url", "https://t",
        "--key-set-url", "https://k",
    )  # fmt: skip
    assert result.exit_code != 0
    assert "not an http(s) URL" in result.output


def test_platform_remove_unknown(cli: Any) -> None:
    result = cli("platform", "remove", "--issuer", "https://nowhere.example")
    assert result.exit_code != 0
    assert "no platform" in result.output


def test_db_upgrade_works_from_any_directory(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, BEELDCOACH_INSTANCE_PATH=str(tmp_path / "inst"))
    env.pop("BEELDCOACH_DATABASE_URL", None)
    exe = Path(sys.executable).with_name("beeldcoach")
    done = subprocess.run(
        [str(exe), "db", "upgrade"], cwd=elsewhere, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "inst" / "beeldcoach.db").exists()
    listed = subprocess.run(
        [str(exe), "platform", "list"], cwd=elsewhere, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "no platforms registered" in listed.stdout
