"""The hub as one object: its database, settings and PDQ indexes, one transaction per action.

The web app and the CLI call these methods and nothing else, so a bundle imported from a file
for an air-gapped unit goes through exactly the checks of one pushed over HTTP.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from vigil.errors import AuthenticationFailed, Conflict, NotFound, PermissionDenied, VigilError
from vigil.hub import match, members, operations, overlaps
from vigil.hub.config import CONFIG_NAME, HubSettings
from vigil.hub.pdqindex import PdqIndexes
from vigil.share import keys, proof, protocol
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.hub import (
    HUB_CHAIN,
    HubBundle,
    HubMember,
    HubNotification,
    HubOverlap,
    HubProof,
    HubQuarantine,
    HubSignal,
)

MIGRATIONS = Path(__file__).resolve().parent.parent / "store" / "hub_migrations"
ADMIN = "hub-admin"
ADMIN_COUNTRY = "ZZ"
"""ISO 3166 user-assigned code: the administrator belongs to no country."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _value_key(value: str) -> str:
    return value if len(value) <= 64 else hashlib.sha256(value.encode()).hexdigest()


class Hub:
    """One hub installation."""

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        self.db = Database(settings.url, migrations=MIGRATIONS)
        self.indexes = PdqIndexes()

    @classmethod
    def open(cls, data_dir: Path) -> Hub:
        return cls(HubSettings.load(data_dir))

    @classmethod
    def init(cls, data_dir: Path, *, database_url: str = "", **overrides: Any) -> tuple[Hub, str]:
        """Create a hub folder, its database and the administrator's key; return (hub, key id)."""
        if (data_dir / CONFIG_NAME).exists():
            raise Conflict(f"{data_dir} is already a hub folder")
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = HubSettings(data_dir=data_dir, database_url=database_url, **overrides)
        key = keys.generate()
        kid = keys.write_keypair(key, settings.admin_key, settings.admin_key.with_suffix(".pub"))
        (data_dir / CONFIG_NAME).write_text(settings.dump(), encoding="utf-8")
        hub = cls(settings)
        with hub.db.write() as s:
            members.add_member(
                s,
                ADMIN,
                country=ADMIN_COUNTRY,
                force="hub administrator",
                contact="-",
                public_key=key.public_key(),
                role="admin",
                actor="init",
            )
        return hub, kid

    def close(self) -> None:
        self.db.dispose()

    def _nonce_window(self) -> dt.timedelta:
        return max(self.settings.bundle_max_age, self.settings.request_skew)

    # --- authentication -------------------------------------------------------------------

    def authenticate(
        self,
        method: str,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        now: dt.datetime | None = None,
    ) -> HubMember:
        """Verify a signed API request; return its member.

        A refusal is audited when the request names a registered key (a member's key misused,
        replayed or out of time is worth a record); anonymous noise from anyone who can reach
        the port is left to the server's access log, so it cannot flood the hub's audit chain.
        """
        now = now or _now()
        try:
            with self.db.write() as s:
                seen = members.nonce_guard(s, self._nonce_window(), now)
                kid = protocol.verify_request(
                    method,
                    path,
                    body,
                    headers,
                    members.public_keys(s),
                    now,
                    self.settings.request_skew,
                    seen,
                )
                return members.by_key(s, kid)
        except AuthenticationFailed as exc:
            kid = {k.lower(): v for k, v in headers.items()}.get(protocol.H_KEY, "")
            with self.db.read() as s:
                known = kid in members.public_keys(s)
            if known:
                self._refused("request", exc, {"method": method, "path": path[:200], "key_id": kid})
            raise

    def _refused(self, what: str, exc: Exception, details: dict[str, Any]) -> None:
        with self.db.write() as s:
            members.log(
                s,
                "hub",
                f"hub.{what}_refused",
                reason=getattr(exc, "code", "error"),
                message=str(exc)[:300],
                **details,
            )

    # --- bundles --------------------------------------------------------------------------

    def push(
        self,
        data: bytes,
        *,
        via: str = "http",
        sender: HubMember | None = None,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Verify, store and match one envelope; return what happened."""
        now = now or _now()
        digest = hashlib.sha256(data).hexdigest()
        op_id = None
        try:
            with self.db.write() as s:
                seen = members.nonce_guard(s, self._nonce_window(), now)
                bundle = protocol.verify_envelope(
                    data, members.public_keys(s), now, self.settings.bundle_max_age, seen
                )
                header = bundle["header"]
                member = members.by_key(s, header["key_id"])
                if sender is not None and sender.id != member.id:
                    raise PermissionDenied("a member may push only bundles signed with its own key")
                if member.role == "admin":
                    raise PermissionDenied(
                        "the hub administrator holds no evidence and pushes no signals"
                    )
                if member.name != header["agency"]:
                    raise PermissionDenied(
                        f"bundle says agency {header['agency']!r} but is signed by {member.name}"
                    )
                op = operations.get(s, header["operation"])
                op_id = op.id
                operations.require_participant(s, op, member)
                result = self._store_and_match(s, bundle, member, op, via, digest, now)
                return result
        except VigilError as exc:
            if op_id is not None:
                self.indexes.drop(op_id)
            self._refused("bundle", exc, {"envelope_sha256": digest, "via": via})
            raise
        except Exception:
            if op_id is not None:
                self.indexes.drop(op_id)
            raise

    def _store_and_match(
        self,
        s: Session,
        bundle: dict[str, Any],
        member: HubMember,
        op: Any,
        via: str,
        digest: str,
        now: dt.datetime,
    ) -> dict[str, Any]:
        header = bundle["header"]
        row = HubBundle(
            operation_id=op.id,
            member_id=member.id,
            nonce=header["nonce"],
            case_ref=header["case_ref"],
            created_at=protocol.parse_time(header["created_at"], "created_at"),
            via=via,
            n_signals=len(bundle["signals"]),
            envelope_sha256=digest,
        )
        s.add(row)
        s.flush()
        rows = [
            {
                "bundle_id": row.id,
                "operation_id": op.id,
                "member_id": member.id,
                "kind": sig["kind"],
                "value": sig["value"],
                "value_key": _value_key(sig["value"]),
                "local_ref": sig["local_ref"],
                "meta": sig["meta"],
                "group": match.group_of(sig["kind"], sig["meta"]),
                "quarantined": False,
            }
            for sig in bundle["signals"]
        ]
        new: list[match.Sig] = []
        for start in range(0, len(rows), 5000):
            part = rows[start : start + 5000]
            ids = s.scalars(
                insert(HubSignal).returning(HubSignal.id, sort_by_parameter_order=True), part
            ).all()
            new += [
                match.Sig(
                    i,
                    r["operation_id"],
                    r["member_id"],
                    r["kind"],
                    r["value"],
                    r["value_key"],
                    r["local_ref"],
                    r["meta"],
                    r["group"],
                )
                for i, r in zip(ids, part, strict=True)
            ]
        cands = match.candidates(s, new, self.settings, self.indexes)
        counts = overlaps.record(s, op, member, cands, self.settings, now)
        members.log(
            s,
            member.name,
            "hub.bundle_accepted",
            op.id,
            bundle=row.id,
            via=via,
            signals=len(new),
            envelope_sha256=digest,
            **counts,
        )
        return {"bundle": row.id, "signals": len(new), **counts}

    def import_file(self, path: Path) -> dict[str, Any]:
        """Import a bundle file carried from an air-gapped unit."""
        return self.push(path.read_bytes(), via="file")

    # --- member actions -------------------------------------------------------------------

    def notifications(
        self, member: HubMember, *, include_rejected: bool = False
    ) -> list[dict[str, Any]]:
        with self.db.read() as s:
            return overlaps.notifications(s, _reload(s, member), include_rejected=include_rejected)

    def decide(self, member: HubMember, overlap_id: int, decision: str) -> dict[str, Any]:
        with self.db.write() as s:
            m = _reload(s, member)
            return overlaps.view(s, overlaps.decide(s, overlap_id, m, decision), m)

    # --- same-room proofs (vigil.share.proof) ----------------------------------------------

    def _proof_overlap(self, s: Session, member: HubMember, overlap_id: int) -> HubOverlap:
        ov = s.get(HubOverlap, overlap_id)
        if ov is None or member.id not in (ov.member_a, ov.member_b):
            raise NotFound(f"no overlap #{overlap_id} of yours")
        if ov.proof_requested_at is None:
            raise PermissionDenied(f"overlap #{overlap_id} asks for no geometric proof")
        if ov.status == "rejected":
            raise PermissionDenied(f"overlap #{overlap_id} was rejected: no proof is exchanged")
        return ov

    def proof_send(
        self, member: HubMember, overlap_id: int, payload: Any, now: dt.datetime | None = None
    ) -> dict[str, Any]:
        """The sender (side a) lends its sealed scene features for the verifier (side b).

        The hub checks the frame only (it cannot open it) and keeps it until the result arrives.
        """
        sealed = proof.validate_send(payload)
        now = now or _now()
        with self.db.write() as s:
            m = _reload(s, member)
            ov = self._proof_overlap(s, m, overlap_id)
            if m.id != ov.member_a:
                raise PermissionDenied(
                    f"overlap #{overlap_id}: the other agency lends its features; you verify"
                )
            row = s.get(HubProof, ov.id)
            if row is not None and row.result is not None:
                raise Conflict(f"overlap #{overlap_id} is already proved")
            if row is None:
                row = HubProof(overlap_id=ov.id, sender_id=ov.member_a, verifier_id=ov.member_b)
                s.add(row)
            row.sealed, row.sealed_sha256, row.sent_at = sealed, proof.sealed_digest(sealed), now
            s.add(HubNotification(member_id=ov.member_b, kind="proof", overlap_id=ov.id))
            members.log(
                s,
                m.name,
                "hub.proof_features_relayed",
                ov.operation_id,
                overlap=ov.id,
                sealed_sha256=row.sealed_sha256,
                size=len(sealed),
            )
            return overlaps.view(s, ov, m)

    def proof_features(self, member: HubMember, overlap_id: int) -> dict[str, Any]:
        """The verifier (side b) fetches the sealed record lent for this overlap."""
        with self.db.write() as s:
            m = _reload(s, member)
            ov = self._proof_overlap(s, m, overlap_id)
            if m.id != ov.member_b:
                raise PermissionDenied(f"overlap #{overlap_id}: only the verifying agency fetches")
            row = s.get(HubProof, ov.id)
            if row is None or row.sealed is None:
                raise NotFound(f"overlap #{overlap_id}: no sealed features waiting")
            members.log(
                s,
                m.name,
                "hub.proof_features_fetched",
                ov.operation_id,
                overlap=ov.id,
                sealed_sha256=row.sealed_sha256,
            )
            return {"overlap": ov.id, "sealed": row.sealed}

    def proof_result(
        self, member: HubMember, overlap_id: int, payload: Any, now: dt.datetime | None = None
    ) -> dict[str, Any]:
        """The verifier's result: verdict, counts and inlier coordinates only (nothing else is
        accepted); the sealed record is deleted and both agencies are notified."""
        result = proof.validate_result(payload)
        now = now or _now()
        with self.db.write() as s:
            m = _reload(s, member)
            ov = self._proof_overlap(s, m, overlap_id)
            if m.id != ov.member_b:
                raise PermissionDenied(f"overlap #{overlap_id}: only the verifying agency reports")
            row = s.get(HubProof, ov.id)
            if row is None or row.sealed is None:
                raise Conflict(f"overlap #{overlap_id}: no sealed features were lent to verify")
            row.result, row.proved_at = result, now
            row.sealed = None
            ov.evidence = {
                **ov.evidence,
                "proof": {**result, "points_order": "x_a, y_a, x_b, y_b (side a lent features)"},
            }
            for mid in (ov.member_a, ov.member_b):
                s.add(HubNotification(member_id=mid, kind="proof", overlap_id=ov.id))
            members.log(
                s,
                m.name,
                "hub.proof_received",
                ov.operation_id,
                overlap=ov.id,
                verdict=result["verdict"],
                inliers=result["inliers"],
            )
            s.flush()
            return overlaps.view(s, ov, m)

    def board(self, member: HubMember, code: str) -> dict[str, Any]:
        with self.db.write() as s:
            m = _reload(s, member)
            op = operations.get(s, code)
            operations.require_participant(s, op, m)
            members.log(s, m.name, "hub.board_viewed", op.id)
            return operations.board(s, op)

    def set_target(self, member: HubMember, code: str, ref: str, **changes: Any) -> dict[str, Any]:
        with self.db.write() as s:
            m = _reload(s, member)
            op = operations.get(s, code)
            target = operations.upsert_target(s, op, m, ref, **changes)
            notices = overlaps.deconflict_target(s, op, target)
            return {
                "id": target.id,
                "ref": target.ref,
                "status": target.status,
                "deconflictions": notices,
            }

    def update_target(self, member: HubMember, target_id: int, **changes: Any) -> dict[str, Any]:
        with self.db.write() as s:
            m = _reload(s, member)
            target = operations.update_target(s, target_id, m, **changes)
            op = operations.get_by_id(s, target.operation_id)
            notices = overlaps.deconflict_target(s, op, target)
            return {
                "id": target.id,
                "ref": target.ref,
                "status": target.status,
                "deconflictions": notices,
            }

    def set_checklist(self, member: HubMember, code: str, item: str, done: bool) -> dict[str, Any]:
        with self.db.write() as s:
            m = _reload(s, member)
            row = operations.set_checklist(s, operations.get(s, code), m, item, done)
            return {"country": row.country, "item": row.item, "done": row.done}

    def quarantine(self) -> list[dict[str, Any]]:
        """Signals held by the flood guard and not yet reviewed (for the administrator)."""
        with self.db.read() as s:
            rows = s.execute(
                select(HubQuarantine, HubSignal, HubMember.name)
                .join(HubSignal, HubSignal.id == HubQuarantine.signal_id)
                .join(HubMember, HubMember.id == HubSignal.member_id)
                .where(HubQuarantine.reviewed_at.is_(None))
                .order_by(HubQuarantine.id)
            ).all()
            return [
                {
                    "id": q.id,
                    "signal": sig.id,
                    "kind": sig.kind,
                    "agency": name,
                    "matches": q.matches,
                    "reason": q.reason,
                }
                for q, sig, name in rows
            ]

    def review_quarantine(
        self, quarantine_id: int, *, release: bool, actor: str = ADMIN
    ) -> dict[str, Any]:
        """Close a quarantine case: keep the signal out for good, or release it and notify.

        A released signal is matched again with the flood guard lifted for it alone (a human
        judged its many matches to be real leads).
        """
        now = _now()
        with self.db.write() as s:
            q = s.get(HubQuarantine, quarantine_id)
            if q is None or q.reviewed_at is not None:
                raise NotFound(f"no open quarantine #{quarantine_id}")
            q.reviewed_at = now
            sig = s.get(HubSignal, q.signal_id)
            member = s.get(HubMember, sig.member_id) if sig else None
            if sig is None or member is None:
                raise NotFound(f"signal of quarantine #{quarantine_id} is missing")
            counts: dict[str, int] = {"overlaps": 0}
            if release:
                sig.quarantined = False
                op = operations.get_by_id(s, sig.operation_id)
                cands = match.candidates(s, [match.Sig.of(sig)], self.settings, self.indexes)
                lifted = replace(
                    self.settings, flood_limit=max(self.settings.flood_limit, len(cands))
                )
                counts = overlaps.record(s, op, member, cands, lifted, now)
            members.log(
                s,
                actor,
                "hub.quarantine_reviewed",
                sig.operation_id,
                quarantine=q.id,
                release=release,
                **counts,
            )
            return {"id": q.id, "released": release, **counts}

    def verify_audit(self) -> audit.VerifyReport:
        with self.db.read() as s:
            return audit.verify(s, HUB_CHAIN)

    def member(self, name: str) -> HubMember:
        with self.db.read() as s:
            return members.by_name(s, name)

    def signal_count(self) -> int:
        with self.db.read() as s:
            return len(s.execute(select(HubSignal.id)).all())


def _reload(s: Session, member: HubMember) -> HubMember:
    m = s.get(HubMember, member.id)
    if m is None or m.revoked_at is not None:
        raise PermissionDenied(f"member {member.name} is not active")
    return m
