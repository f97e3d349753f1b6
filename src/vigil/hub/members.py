"""Member agencies, their keys, the nonce table and the hub's audit helper."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.orm import Session

from vigil.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from vigil.share import keys
from vigil.share.kinds import TOKEN
from vigil.store import audit
from vigil.store.base import utcnow
from vigil.store.hub import HUB_CHAIN, HubMember, HubNonce

COUNTRY = re.compile(r"^[A-Z]{2}$")


def log(
    session: Session, actor: str, action: str, operation_id: int | None = None, **details: Any
) -> None:
    """Append to the hub's own hash chain (same transaction as the change)."""
    audit.append(session, actor, action, case_id=operation_id, details=details, chain=HUB_CHAIN)


def add_member(
    session: Session,
    name: str,
    *,
    country: str,
    force: str,
    contact: str,
    public_key: Ed25519PublicKey,
    role: str = "member",
    actor: str = "admin",
) -> HubMember:
    """Register an agency (or the administrator) with its public key."""
    if not TOKEN.match(name):
        raise InvalidInput(f"member name {name!r} must be a short token like 'de-bka'")
    if not COUNTRY.match(country):
        raise InvalidInput(f"country {country!r} must be an ISO 3166 alpha-2 code like 'DE'")
    if role not in ("member", "admin"):
        raise InvalidInput(f"unknown role {role!r}")
    kid = keys.key_id(public_key)
    member = HubMember(
        name=name,
        country=country,
        force=force.strip()[:200],
        contact=contact.strip()[:200],
        key_id=kid,
        public_key=base64.b64encode(keys.public_raw(public_key)).decode(),
        role=role,
    )
    session.add(member)
    try:
        session.flush()
    except SqlIntegrityError as exc:
        raise Conflict(f"a member named {name!r} or with key {kid} is already registered") from exc
    log(session, actor, "hub.member_added", member=name, country=country, key_id=kid, role=role)
    return member


def revoke(session: Session, name: str, *, actor: str = "admin") -> HubMember:
    """Revoke a member's key: its signed requests and bundles are refused from now on.

    The member's rows stay (overlaps already reported remain visible to the other side); a new
    key is registered as a new member name, so nothing signed by the old key is ever accepted.
    """
    member = by_name(session, name)
    if member.revoked_at is None:
        member.revoked_at = utcnow()
        session.flush()
        log(session, actor, "hub.member_revoked", member=name, key_id=member.key_id)
    return member


def public_keys(session: Session) -> dict[str, Ed25519PublicKey]:
    """Key id -> public key of every member not revoked."""
    rows = session.execute(select(HubMember).where(HubMember.revoked_at.is_(None))).scalars()
    return {m.key_id: keys.parse_public(m.public_key.encode()) for m in rows}


def by_key(session: Session, key_id: str) -> HubMember:
    member = session.execute(
        select(HubMember).where(HubMember.key_id == key_id)
    ).scalar_one_or_none()
    if member is None or member.revoked_at is not None:
        raise PermissionDenied(f"key {key_id} belongs to no active member")
    return member


def by_name(session: Session, name: str) -> HubMember:
    member = session.execute(select(HubMember).where(HubMember.name == name)).scalar_one_or_none()
    if member is None:
        raise NotFound(f"no member named {name!r}")
    return member


def list_members(session: Session) -> list[HubMember]:
    return list(session.execute(select(HubMember).order_by(HubMember.name)).scalars())


def nonce_guard(session: Session, window: dt.timedelta, now: dt.datetime) -> Any:
    """A ``seen_nonce`` callback for :mod:`vigil.share.protocol` backed by ``hub_nonces``.

    Nonces older than ``window`` are pruned first: a message that old is refused by its
    timestamp before its nonce is looked at, so forgetting them loses no protection.
    """
    session.execute(delete(HubNonce).where(HubNonce.at < now - window - dt.timedelta(minutes=10)))

    def seen(key_id: str, nonce: str, at: dt.datetime) -> bool:
        if session.get(HubNonce, (key_id, nonce)) is not None:
            return True
        session.add(HubNonce(key_id=key_id, nonce=nonce, at=at))
        session.flush()
        return False

    return seen
