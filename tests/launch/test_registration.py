"""LTI Dynamic Registration against a test platform's OpenID configuration, over real HTTP."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from lti_tool.db import db
from lti_tool.launch.models import Deployment, Platform
from tests.launch.test_launch import follow_to_start
from tests.lti_platform import INSTRUCTOR, Person, TestPlatform, browser


def _register(platform: TestPlatform, token: str = "reg-token") -> Any:
    return browser().get(
        platform.tool_base + "/lti/register",
        params={
            "openid_configuration": platform.openid_configuration_url,
            "registration_token": token,
        },
        timeout=20,
    )


def test_dynamic_registration_then_launch(make_platform: Any, app_ctx: Any) -> None:
    platform = make_platform(register=False)
    platform.issuer = platform.base  # a platform's issuer is its own site URL
    page = _register(platform)
    assert page.status_code == 200, page.text[:500]
    assert 'data-registration="done"' in page.text
    assert (
        "org.imsglobal.lti.close"
        in browser().get(platform.tool_base + "/static/register.js", timeout=10).text
    )

    assert len(platform.registrations) == 1
    sent = platform.registrations[0]
    tool = platform.tool_base
    assert sent["initiate_login_uri"] == tool + "/lti/login"
    assert sent["redirect_uris"] == [tool + "/lti/launch"]
    assert sent["jwks_uri"] == tool + "/lti/jwks"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    for scope in ("lti-ags/scope/score", "lti-ags/scope/lineitem", "lti-nrps/scope/"):
        assert scope in sent["scope"]
    conf = sent["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert {"type": "LtiDeepLinkingRequest", "target_link_uri": tool + "/lti/launch",
            "label": "Beeldcoach"} in conf["messages"]  # fmt: skip

    record = db.session.scalar(sa.select(Platform).where(Platform.issuer == platform.base))
    assert record is not None
    assert record.client_id == platform.client_id
    assert record.source == "dynamic"
    assert record.key_set_url == platform.jwks_url
    deployments = db.session.scalars(
        sa.select(Deployment.deployment_id).where(Deployment.platform_id == record.id)
    ).all()
    assert deployments == [platform.deployment_ids[0]]

    result = platform.launch(Person(sub="dyn-coach", roles=[INSTRUCTOR], name="Dyn"))
    assert follow_to_start(platform, result.response).status_code == 200


def test_registration_with_a_wrong_token_fails_clearly(make_platform: Any) -> None:
    platform = make_platform(register=False)
    page = _register(platform, token="wrong")
    assert page.status_code == 400
    assert 'data-registration="failed"' in page.text
    assert re.search(r'data-code="configuration_unreachable"', page.text)


def test_registration_rejected_by_the_platform(make_platform: Any) -> None:
    platform = make_platform(register=False)
    platform.registration_status = 400
    page = _register(platform)
    assert page.status_code == 400
    assert 'data-code="registration_rejected"' in page.text


def test_issuer_must_match_the_configuration_url(make_platform: Any, app_ctx: Any) -> None:
    platform = make_platform(register=False)
    # Fetched from "localhost", the configuration names "127.0.0.1" as its issuer.
    page = browser().get(
        platform.tool_base + "/lti/register",
        params={
            "openid_configuration": platform.openid_configuration_url.replace(
                "127.0.0.1", "localhost"
            ),
            "registration_token": "reg-token",
        },
        timeout=20,
    )
    assert page.status_code == 400
    assert 'data-code="issuer_mismatch"' in page.text


def test_register_without_parameters_explains_itself(live_server: str) -> None:
    page = browser().get(live_server + "/lti/register", timeout=10)
    assert page.status_code == 400
    assert 'data-code="missing"' in page.text


def test_manual_configuration_lists_every_url(live_server: str) -> None:
    page = browser().get(live_server + "/lti/config", timeout=10)
    assert page.status_code == 200
    for path in ("/lti/login", "/lti/launch", "/lti/jwks", "/lti/register"):
        assert live_server + path in page.text
    data = browser().get(live_server + "/lti/config.json", timeout=10).json()
    assert data["jwks_url"] == live_server + "/lti/jwks"
    assert data["redirect_uris"] == live_server + "/lti/launch"
