"""Why a launch was refused: a code per reason, each with a status and a page in two languages."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Reason:
    status: int
    title: object
    explanation: object


REASONS: dict[str, Reason] = {
    "expired": Reason(
        401,
        _l("This launch has expired"),
        _l(
            "The learning platform's launch message is only valid for a short time. "
            "Go back to the course and open Beeldcoach again."
        ),
    ),
    "not_yet_valid": Reason(
        401,
        _l("This launch is not valid yet"),
        _l(
            "The learning platform's clock runs ahead of ours by more than a minute. "
            "Ask your administrator to check the server clock."
        ),
    ),
    "bad_signature": Reason(
        401,
        _l("The launch could not be verified"),
        _l(
            "The signature of the launch message does not match the learning platform's keys. "
            "Nothing was opened. If this keeps happening, ask your administrator to check "
            "the tool registration."
        ),
    ),
    "unknown_key": Reason(
        401,
        _l("The launch was signed with an unknown key"),
        _l(
            "The learning platform signed the launch with a key it does not publish. "
            "Ask your administrator to check the platform's key set URL."
        ),
    ),
    "unknown_platform": Reason(
        403,
        _l("This learning platform is not registered"),
        _l(
            "Beeldcoach does not know this platform or client id. An administrator has to "
            "register the platform first."
        ),
    ),
    "unknown_deployment": Reason(
        403,
        _l("This deployment is not registered"),
        _l(
            "The platform is known, but this deployment of the tool is not. An administrator "
            "has to add the deployment id."
        ),
    ),
    "wrong_audience": Reason(
        401,
        _l("The launch was meant for another tool"),
        _l("The launch message names a different client id than this registration."),
    ),
    "replayed": Reason(
        403,
        _l("This launch was already used"),
        _l(
            "Every launch can be used once. Go back to the course and open Beeldcoach again "
            "instead of reloading or resending the page."
        ),
    ),
    "missing_state": Reason(
        400,
        _l("The launch does not belong to a login we started"),
        _l(
            "The launch arrived without a login that Beeldcoach knows of, or the login took "
            "too long. Open Beeldcoach again from the course."
        ),
    ),
    "cookies_blocked": Reason(
        403,
        _l("Your browser blocked Beeldcoach's cookie"),
        _l(
            "Beeldcoach runs inside the learning platform, and your browser does not allow "
            "it to remember this login there. Open Beeldcoach in a new window to continue."
        ),
    ),
    "invalid_token": Reason(
        400,
        _l("The launch message is not valid"),
        _l("The learning platform sent a launch that is incomplete or malformed."),
    ),
    "invalid_message": Reason(
        400,
        _l("The launch message is not valid"),
        _l("The launch misses a required LTI claim or has an unsupported message type."),
    ),
    "invalid_login": Reason(
        400,
        _l("The login request is not valid"),
        _l("The login request misses the issuer or the login hint."),
    ),
    "keys_unavailable": Reason(
        502,
        _l("The learning platform's keys could not be fetched"),
        _l("Beeldcoach could not reach the platform's key set. Try again in a minute."),
    ),
    "session_expired": Reason(
        401,
        _l("Your session has ended"),
        _l("Open Beeldcoach again from your course to continue."),
    ),
    "forbidden": Reason(
        403,
        _l("This is not available to you"),
        _l("Your role in this course does not give access to this page."),
    ),
}


@dataclass
class LaunchRefused(Exception):
    """A launch or login refused for a known reason; rendered as a 4xx page, never a 500."""

    code: str
    detail: str = ""
    retry_params: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.code in REASONS, self.code
        super().__init__(f"{self.code}: {self.detail}")

    @property
    def reason(self) -> Reason:
        return REASONS[self.code]
