"""A hub with three member agencies in one operation (temp folder, SQLite, in-process)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.hub import members, operations
from vigil.hub.service import Hub
from vigil.share import keys
from vigil.share.protocol import make_bundle, sign_bundle
from vigil.store.hub import HubMember

AGENCIES = (("de-bka", "DE"), ("nl-police", "NL"), ("es-pn", "ES"))
OP = "op-ore"


@dataclass
class Agency:
    name: str
    country: str
    key: Ed25519PrivateKey
    member: HubMember

    def envelope(
        self,
        signals: list[dict[str, Any]],
        *,
        case_ref: str = "case-1",
        when: dt.datetime | None = None,
        operation: str = OP,
    ) -> bytes:
        bundle = make_bundle(
            agency=self.name,
            operation=operation,
            case_ref=case_ref,
            key_id=keys.key_id(self.key),
            signals=signals,
            created_at=when,
        )
        return sign_bundle(bundle, self.key)


@dataclass
class World:
    hub: Hub
    agencies: dict[str, Agency] = field(default_factory=dict)


def make_world(tmp: Path, **overrides: Any) -> World:
    hub, _kid = Hub.init(tmp / "hub", **overrides)
    world = World(hub)
    with hub.db.write() as s:
        op = operations.create(s, OP, "Operation Ore", dt.date(2027, 3, 1))
        for name, country in AGENCIES:
            key = keys.generate()
            m = members.add_member(
                s,
                name,
                country=country,
                force=f"{name} force",
                contact=f"desk@{name}",
                public_key=key.public_key(),
            )
            operations.join(s, op, m)
            world.agencies[name] = Agency(name, country, key, m)
    return world
