"""Platform registrations, deployments, tool keys, OIDC login state and launches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, TimestampMixin


class Platform(TimestampMixin, Base):
    """One registration: an issuer and one of its client ids (Canvas shares one issuer)."""

    __tablename__ = "platforms"
    __table_args__ = (sa.UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(sa.String(255), index=True)
    client_id: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str | None] = mapped_column(sa.String(255))
    auth_login_url: Mapped[str] = mapped_column(sa.String(1024))
    auth_token_url: Mapped[str] = mapped_column(sa.String(1024))
    key_set_url: Mapped[str] = mapped_column(sa.String(1024))
    auth_audience: Mapped[str | None] = mapped_column(sa.String(1024))
    # How it was registered: cli, dynamic, demo.
    source: Mapped[str] = mapped_column(sa.String(16), default="cli")
    # The platform's key set, cached; refreshed after jwks_cache_ttl or on an unknown kid.
    jwks: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    jwks_fetched_at: Mapped[datetime | None]

    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", passive_deletes=True
    )


class Deployment(TimestampMixin, Base):
    __tablename__ = "deployments"
    __table_args__ = (sa.UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(sa.ForeignKey("platforms.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(sa.String(255))

    platform: Mapped[Platform] = relationship(back_populates="deployments")


class ToolKey(TimestampMixin, Base):
    """The tool's own RSA signing keys: next, current and previous are all published."""

    __tablename__ = "tool_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)  # next|current|previous|retired
    private_pem: Mapped[str] = mapped_column(sa.Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    activated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class OidcState(TimestampMixin, Base):
    """A login in flight: state and nonce, single use, server-side, shared by all processes."""

    __tablename__ = "oidc_states"

    state: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(sa.String(64), unique=True)
    platform_id: Mapped[int] = mapped_column(sa.ForeignKey("platforms.id", ondelete="CASCADE"))
    # The login request's parameters, to reopen the login in a new window if cookies fail.
    login_params: Mapped[dict[str, str]] = mapped_column(sa.JSON)
    storage_target: Mapped[str | None] = mapped_column(sa.String(64))
    # Platform Storage: a secret kept in the platform's window, never shown to the launch page.
    storage_secret: Mapped[str | None] = mapped_column(sa.String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    # The launch this login produced, handed out only after the browser check (storage path).
    launch_id: Mapped[str | None] = mapped_column(sa.String(64))


class Launch(TimestampMixin, Base):
    """A validated launch; its id is pylti1p3's launch_id and backs the page's API token."""

    __tablename__ = "launches"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    platform_id: Mapped[int] = mapped_column(sa.ForeignKey("platforms.id", ondelete="CASCADE"))
    deployment_pk: Mapped[int] = mapped_column(sa.ForeignKey("deployments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int | None] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"))
    message_type: Mapped[str] = mapped_column(sa.String(64))
    roles: Mapped[list[str]] = mapped_column(sa.JSON)
    claims: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # The one-time /start link: consumed on first use (a leaked link cannot be replayed).
    start_used_at: Mapped[datetime | None]

    platform: Mapped[Platform] = relationship()
    deployment: Mapped[Deployment] = relationship()
