"""Typed SQLAlchemy 2.0 models. Reports name a team, never a device; no row holds an IP or user agent."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    TRANSLATOR = "translator"


class ReportStatus(enum.StrEnum):
    NEW = "new"
    IN_REVIEW = "in_review"
    REFERRED = "referred"
    CLOSED = "closed"


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    created_on: Mapped[dt.date] = mapped_column(Date, default=today)


class Device(db.Model):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enrolled_on: Mapped[dt.date] = mapped_column(Date, default=today)
    last_sync_on: Mapped[dt.date | None] = mapped_column(Date)
    revoked_on: Mapped[dt.date | None] = mapped_column(Date)
    # Until the phone first uses its token: a digest of its code and its enrollment_id, so that a retry after
    # a lost answer gets a fresh token for this device instead of a refusal (the code is spent).
    enrollment_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    # The look its code gave (fieldapp/looks.py); None: the configured default.
    look: Mapped[str | None] = mapped_column(String(16))
    # Revoked with a wipe: it may still deliver its sealed outbox, and every other call tells it to wipe.
    wipe_requested_on: Mapped[dt.date | None] = mapped_column(Date)
    wiped_on: Mapped[dt.date | None] = mapped_column(Date)  # when it was first told to wipe

    team: Mapped[Team] = relationship()


class EnrollmentCode(db.Model):
    __tablename__ = "enrollment_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    uses_left: Mapped[int] = mapped_column(Integer)
    created_on: Mapped[dt.date] = mapped_column(Date, default=today)
    look: Mapped[str | None] = mapped_column(String(16))  # the look its phones take; None: the default

    team: Mapped[Team] = relationship()


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    passphrase_hash: Mapped[str] = mapped_column(String(200))
    created_on: Mapped[dt.date] = mapped_column(Date, default=today)
    disabled_on: Mapped[dt.date | None] = mapped_column(Date)
    # Per account, not per address (none is kept): consecutive failures and how long logins now wait.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # The same for the key passphrase: a stolen login must not become an unlimited guess at the key.
    failed_unlocks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unlock_locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Carried in the session cookie; logging out moves it on, so a copy of an earlier cookie opens nothing.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class OrgKey(db.Model):
    """An organisation key pair: the public half always, the private half only wrapped per holder."""

    __tablename__ = "org_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(16), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(65))
    current: Mapped[bool] = mapped_column(Boolean, default=False)
    created_on: Mapped[dt.date] = mapped_column(Date, default=today)
    retired_on: Mapped[dt.date | None] = mapped_column(Date)

    grants: Mapped[list[KeyGrant]] = relationship(back_populates="key", cascade="all, delete-orphan")
    pending: Mapped[list[PendingGrant]] = relationship(back_populates="key", cascade="all, delete-orphan")

    @property
    def mode(self) -> str:
        return "managed" if self.grants else "offline"


class SignedKeyList(db.Model):
    """A key list as the organisation's signing key signed it (PROTOCOL.md §12), kept byte for byte: the newest
    is what phones are given; the first one's signer is the one every later list must be signed by."""

    __tablename__ = "key_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    document: Mapped[str] = mapped_column(Text)  # the signed bytes (ASCII JSON)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    signer: Mapped[bytes] = mapped_column(LargeBinary(65))
    created_on: Mapped[dt.date] = mapped_column(Date, default=today)


class KeyGrant(db.Model):
    """One holder's copy of an organisation private key, wrapped under that holder's key passphrase."""

    __tablename__ = "key_grants"
    __table_args__ = (UniqueConstraint("key_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("org_keys.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    wrapped_private_key: Mapped[str] = mapped_column(Text)
    created_on: Mapped[dt.date] = mapped_column(Date, default=today)

    key: Mapped[OrgKey] = relationship(back_populates="grants")
    user: Mapped[User] = relationship()


class HolderKey(db.Model):
    """A key holder's own P-256 key pair, its private half wrapped under the holder's key passphrase.

    A new organisation key is sealed to it as a pending grant, so a rotation reaches every holder without
    anyone else knowing their passphrase; their next unlock completes it.
    """

    __tablename__ = "holder_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(65))
    wrapped_private_key: Mapped[str] = mapped_column(Text)
    created_on: Mapped[dt.date] = mapped_column(Date, default=today)


class PendingGrant(db.Model):
    """An organisation private key sealed to a holder's key pair, waiting for that holder's next unlock."""

    __tablename__ = "pending_grants"
    __table_args__ = (UniqueConstraint("key_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("org_keys.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    sealed_private_key: Mapped[str] = mapped_column(Text)
    created_on: Mapped[dt.date] = mapped_column(Date, default=today)

    key: Mapped[OrgKey] = relationship(back_populates="pending")
    user: Mapped[User] = relationship()


class Report(db.Model):
    """A sealed report exactly as the device sent it; the server cannot read it without a key."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    rid: Mapped[str] = mapped_column(String(36), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    kid: Mapped[str] = mapped_column(String(16))
    envelope: Mapped[str] = mapped_column(Text)
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    received_on: Mapped[dt.date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.NEW.value, index=True)
    referred_to: Mapped[str | None] = mapped_column(String(24))
    # On a base that relays to HQ: the day HQ confirmed it (stored or duplicate), or why HQ refused it.
    forwarded_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    forward_refusal: Mapped[str | None] = mapped_column(String(500))

    team: Mapped[Team] = relationship()


class Attachment(db.Model):
    """A recording or photo a stored report declared (its envelope's `att`); its chunks arrive one by one."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    aid: Mapped[str] = mapped_column(String(36), unique=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    chunks: Mapped[int] = mapped_column(Integer)  # as declared
    received: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # chunks stored so far
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # its envelope's v: the chunk size

    report: Mapped[Report] = relationship()


class AttachmentChunk(db.Model):
    """One sealed chunk exactly as the device sent it (PROTOCOL.md §4); the server cannot read it."""

    __tablename__ = "attachment_chunks"

    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    # On a base that relays to HQ: HQ holds this chunk (it answered 204, or listed it as received).
    forwarded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Relay(db.Model):
    """A base server that forwards its reports here (HQ's side), enrolled with a code of its own kind."""

    __tablename__ = "relays"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    created_on: Mapped[dt.date] = mapped_column(Date, default=today)
    # Until the base first uses its token: the code's digest and expiry, and the retry digest of its enrolment.
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    enrollment_digest: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_contact_on: Mapped[dt.date | None] = mapped_column(Date)
    revoked_on: Mapped[dt.date | None] = mapped_column(Date)


class RelayLink(db.Model):
    """This server's link to the HQ it forwards to (a base's side); one row at most."""

    __tablename__ = "relay_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    hq_url: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(String(80))  # as HQ knows this base
    token: Mapped[str] = mapped_column(String(100))  # the bearer token, kept in clear: the base must present it
    ca_pem: Mapped[str | None] = mapped_column(Text)  # an authority to trust for HQ instead of the system's
    joined_on: Mapped[dt.date] = mapped_column(Date, default=today)
    # The base's own link, not a person: its hour tells a supervisor how fresh HQ's copy is.
    last_contact_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))


class ReferralTarget(enum.StrEnum):
    POLICE = "police"
    PROSECUTOR = "prosecutor"
    SHELTER = "shelter"
    LABOUR_INSPECTORATE = "sunafil"
    HEALTH = "health"
    OTHER = "other"


class ReportNote(db.Model):
    """A supervisor's note on a report, sealed to the organisation key like a report (no plaintext at rest)."""

    __tablename__ = "report_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    envelope: Mapped[str] = mapped_column(Text)
    created_on: Mapped[dt.date] = mapped_column(Date, default=today)


class UnlockedKeys(db.Model):
    """The organisation keys of one unlocked dashboard session, sealed under a key that only the session's
    cookie holds: useless alone, readable by any worker process that gets the cookie, gone when it expires."""

    __tablename__ = "unlocked_keys"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    sealed_keys: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class SetupToken(db.Model):
    """The one-time link that lets the first admin in; only its digest is kept."""

    __tablename__ = "setup_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_on: Mapped[dt.date] = mapped_column(Date, default=today)


class AuditEvent(db.Model):
    """One supervisor-side action. Append-only; each row's hash covers the previous row's, so a changed or
    deleted row breaks the chain from that point on."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))  # a username, kept as text so that the record outlives the user
    action: Mapped[str] = mapped_column(String(40), index=True)
    report_rid: Mapped[str | None] = mapped_column(String(36), index=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)  # one successor per row: no forks
    hash: Mapped[str] = mapped_column(String(64), unique=True)
