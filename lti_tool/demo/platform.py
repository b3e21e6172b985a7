"""The demo platform's own side of LTI 1.3: its key, its people, its signed id_tokens.

This is a real platform, not a shortcut: the tool verifies its tokens exactly as it verifies
Moodle's, fetching the demo's key set over HTTP. It exists only in development mode.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; it is translated where shown."""
    return message


#: The demo platform's issuer: fixed, so that the seeded demo school and the people who launch
#: are the same users whichever loopback name and port the demo is opened on. Never fetched.
DEMO_ISSUER = "https://demo-platform.beeldcoach.invalid"
CLIENT_ID = "beeldcoach-demo"
DEPLOYMENT_ID = "demo-deployment-1"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"


@dataclass(frozen=True)
class DemoPerson:
    key: str
    sub: str
    given_name: str
    family_name: str
    email: str
    roles: tuple[str, ...]
    description: str  # English; the page translates

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(
        "coach",
        "demo-coach-1",
        "Sanne",
        "de Vries",
        "sanne.devries@regenboog.example",
        (MEMBERSHIP + "Instructor",),
        N_("video coach"),
    ),
    DemoPerson(
        "teacher1",
        "demo-teacher-1",
        "Jeroen",
        "Bakker",
        "jeroen.bakker@regenboog.example",
        (MEMBERSHIP + "Learner",),
        N_("teacher, group 5"),
    ),
    DemoPerson(
        "teacher2",
        "demo-teacher-2",
        "Fatima",
        "El Amrani",
        "fatima.elamrani@regenboog.example",
        (MEMBERSHIP + "Learner",),
        N_("teacher, group 2"),
    ),
    DemoPerson(
        "admin",
        "demo-admin-1",
        "Ingrid",
        "Visser",
        "ingrid.visser@regenboog.example",
        (INSTITUTION + "Administrator", SYSTEM + "Administrator"),
        N_("school administrator"),
    ),
)
PEOPLE_BY_KEY = {p.key: p for p in PEOPLE}

COURSE = {
    "id": "demo-course-1",
    "label": "BB-2026",
    "title": "Beeldbegeleiding — Basisschool De Regenboog",
    "type": ["CourseSection"],
}
RESOURCE_LINK = {"id": "demo-link-start", "title": "Beeldcoach"}


class DemoPlatform:
    """Key material in the instance folder; issuer derived from where the demo is served."""

    def __init__(self, instance_path: str, issuer: str) -> None:
        self.issuer = issuer
        self._pem = _load_or_create_key(Path(instance_path) / "demo_platform_key.pem")
        self._jwk = JWK.from_pem(self._pem.encode())
        self.kid = self._jwk.thumbprint()

    def jwks(self) -> dict[str, Any]:
        public = json.loads(self._jwk.export_public())
        public.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [public]}

    def id_token(
        self,
        person: DemoPerson,
        nonce: str,
        message_type: str,
        target_link_uri: str,
        deep_link_return_url: str | None = None,
        custom: dict[str, str] | None = None,
        resource_link: dict[str, str] | None = None,
        locale: str = "nl-NL",
    ) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": person.sub,
            "iat": now,
            "exp": now + 60,  # as Moodle: valid for one minute
            "nonce": nonce,
            "name": person.name,
            "given_name": person.given_name,
            "family_name": person.family_name,
            "email": person.email,
            "locale": locale,
            CLAIM + "version": "1.3.0",
            CLAIM + "message_type": message_type,
            CLAIM + "deployment_id": DEPLOYMENT_ID,
            CLAIM + "target_link_uri": target_link_uri,
            CLAIM + "roles": list(person.roles),
            CLAIM + "context": COURSE,
            CLAIM + "tool_platform": {
                "guid": "beeldcoach-demo-platform",
                "name": "Beeldcoach demo platform",
                "product_family_code": "beeldcoach-demo",
                "version": "1",
            },
            CLAIM + "launch_presentation": {"document_target": "iframe", "locale": locale},
        }
        if message_type == "LtiResourceLinkRequest":
            body[CLAIM + "resource_link"] = resource_link or RESOURCE_LINK
            if custom:
                body[CLAIM + "custom"] = custom
        else:
            body[DL + "deep_linking_settings"] = {
                "deep_link_return_url": deep_link_return_url,
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": True,
                "data": uuid.uuid4().hex,
            }
        return jwt.encode(body, self._pem, algorithm="RS256", headers={"kid": self.kid})


def _load_or_create_key(path: Path) -> str:
    if not path.exists():
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    return path.read_text()
