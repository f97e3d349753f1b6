"""Operations: owner-only targets, per-country checklist, outcome funnel, participation."""

from __future__ import annotations

import datetime as dt

import pytest

from vigil.errors import InvalidInput, PermissionDenied
from vigil.hub import members, operations
from vigil.hub.pages import board_page
from vigil.share import keys

from ._world import OP, World


def test_only_the_owner_updates_a_target(world: World) -> None:
    a, b, _c = world.agencies.values()
    t = world.hub.set_target(a.member, OP, "target:1", status="warrant")
    with pytest.raises(PermissionDenied, match="only its owner"):
        world.hub.update_target(b.member, t["id"], status="no_further_action")
    assert world.hub.update_target(a.member, t["id"], status="arrested")["status"] == "arrested"
    with pytest.raises(InvalidInput, match="status"):
        world.hub.update_target(a.member, t["id"], status="shot")
    with pytest.raises(InvalidInput, match="opaque reference"):
        world.hub.set_target(a.member, OP, "John Smith")


def test_funnel_per_country_and_total(world: World) -> None:
    a, b, c = world.agencies.values()
    plan = [
        (a, "target:1", "convicted", 2),
        (a, "target:2", "charged", 0),
        (a, "target:3", "no_further_action", 0),
        (b, "target:4", "searched", 1),
        (c, "target:5", "planned", 0),
    ]
    for ag, ref, status, kids in plan:
        world.hub.set_target(ag.member, OP, ref, status=status, children_safeguarded=kids)
    board = world.hub.board(c.member, OP)
    de = board["funnel"]["countries"]["DE"]
    assert (
        de["planned"],
        de["warrant"],
        de["arrested_or_searched"],
        de["charged"],
        de["convicted"],
    ) == (3, 2, 2, 2, 1)
    assert de["no_further_action"] == 1
    assert de["children_safeguarded"] == 2
    total = board["funnel"]["total"]
    assert (total["planned"], total["arrested_or_searched"], total["children_safeguarded"]) == (
        5,
        3,
        3,
    )
    assert [t["ref"] for t in board["targets"]["NL"]] == ["target:4"]
    assert board["operation"]["action_day"] == "2027-03-01"
    html = board_page(board)
    assert "Outcome funnel" in html
    assert "<script" not in html


def test_checklist_is_per_country(world: World) -> None:
    a, _b, c = world.agencies.values()
    world.hub.set_checklist(a.member, OP, "warrants obtained", True)
    world.hub.set_checklist(c.member, OP, "interpreters booked", False)
    board = world.hub.board(a.member, OP)
    de = {i["item"]: i["done"] for i in board["checklist"]["DE"]}
    es = {i["item"]: i["done"] for i in board["checklist"]["ES"]}
    assert de["warrants obtained"] is True
    assert es["warrants obtained"] is False
    assert es["interpreters booked"] is False


def test_non_participants_see_nothing(world: World) -> None:
    outsider_key = keys.generate()
    with world.hub.db.write() as s:
        outsider = members.add_member(
            s,
            "fr-ocrvp",
            country="FR",
            force="OCRVP",
            contact="x",
            public_key=outsider_key.public_key(),
        )
        operations.create(s, "op-other", "Other", dt.date(2027, 1, 1))
    with pytest.raises(PermissionDenied, match="does not take part"):
        world.hub.board(outsider, OP)
    with pytest.raises(PermissionDenied):
        world.hub.set_target(outsider, OP, "target:1")
    a = world.agencies["de-bka"]
    with pytest.raises(PermissionDenied, match="does not take part"):
        world.hub.push(a.envelope([], operation="op-other"))


def test_the_administrator_pushes_no_signals(world: World) -> None:
    from vigil.hub.service import ADMIN
    from vigil.share.protocol import make_bundle, sign_bundle

    admin_key = keys.load_private(world.hub.settings.admin_key)
    bundle = make_bundle(
        agency=ADMIN, operation=OP, case_ref="c", key_id=keys.key_id(admin_key), signals=[]
    )
    with pytest.raises(PermissionDenied, match="administrator"):
        world.hub.push(sign_bundle(bundle, admin_key))
    # but may read every board
    assert world.hub.board(world.hub.member(ADMIN), OP)["operation"]["code"] == OP
