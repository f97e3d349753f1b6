"""Privacy-preserving person encodings and the blocked Dice matcher (held to brute force)."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import random
from pathlib import Path

import numpy as np
import pytest

from vigil.errors import IntegrityError, InvalidInput
from vigil.share import evaluate as ev
from vigil.share.persons import (
    DEFAULT_THRESHOLD,
    SLOTS,
    TOKEN_BONUS,
    EncodingParams,
    OperationSecret,
    PersonEncoder,
    PersonEncoding,
    PersonFields,
    PersonMatch,
    dice_pairs,
    from_signal,
    join_tokens,
    join_tokens_counted,
    match_persons,
    soundex,
    write_secret,
)
from vigil.share.protocol import make_signal

KEY_A = OperationSecret(b"a" * 32)
KEY_B = OperationSecret(b"b" * 32)
CARD = "4921810000000000"


def person(**kw: object) -> PersonFields:
    base: dict[str, object] = {
        "name": "Christopher Montgomery",
        "dob": dt.date(1984, 3, 7),
        "postcode": "SW1A 1AA",
        "address": "12 Kingsway Rd",
        "emails": ["c.montgomery@example.org"],
        "cards": [CARD],
    }
    base.update(kw)
    return PersonFields.from_raw(**base)  # type: ignore[arg-type]


def _dice(a: int, b: int) -> float:
    total = a.bit_count() + b.bit_count()
    return 2 * (a & b).bit_count() / total if total else 0.0


def enc_of(clk: bytes, blocks: tuple[str, ...] = ()) -> PersonEncoding:
    return PersonEncoding("p", "k", clk, blocks)


def _random_encodings(rng: random.Random, n: int, fbytes: int, vocab: int) -> list[PersonEncoding]:
    out = []
    for _ in range(n):
        filt = bytes(rng.getrandbits(8) & rng.getrandbits(8) for _ in range(fbytes))
        blocks = tuple(f"{rng.randrange(1, vocab):016x}" for _ in range(rng.randrange(SLOTS)))
        out.append(enc_of(filt, blocks))
    return out


def test_matcher_equals_brute_force_over_blocked_pairs() -> None:
    rng = random.Random(7)
    fbytes = 64
    left = _random_encodings(rng, 120, fbytes, 60)
    right = _random_encodings(rng, 150, fbytes, 60)
    # near-duplicates so that some pairs pass a high threshold
    for i in range(0, 100, 5):
        v = bytearray(left[i].clk)
        v[3] ^= 0x10
        right[i] = enc_of(bytes(v), (*left[i].blocks[:1], "00000000000000ff"))
    threshold = 0.3
    expected = {}
    for (i, a), (j, b) in itertools.product(enumerate(left), enumerate(right)):
        if set(a.blocks).isdisjoint(b.blocks):
            continue
        # shared (slot, slot) token equalities: a token twice on one side counts twice
        shared = sum(a.blocks.count(t) * b.blocks.count(t) for t in set(a.blocks))
        d = _dice(int.from_bytes(a.clk), int.from_bytes(b.clk))
        if d + TOKEN_BONUS * max(shared - 1, 0) >= threshold:
            expected[(i, j)] = (d, shared)
    found = match_persons(left, right, threshold=threshold)
    got = {(m.left, m.right): (m.dice, m.shared_blocks) for m in found}
    assert len(expected) > 40
    assert any(s > 1 and d < threshold for d, s in expected.values())  # the bonus mattered
    assert got.keys() == expected.keys()
    for k, (d, shared) in expected.items():
        assert got[k][0] == pytest.approx(d)
        assert got[k][1] == shared


def test_join_tokens_equals_set_oracle_and_skips_flooded_tokens() -> None:
    rng = np.random.default_rng(3)
    left = rng.integers(0, 40, size=(200, 4)).astype(np.uint64)
    right = rng.integers(0, 40, size=(170, 4)).astype(np.uint64)
    left[:, 0] = 999  # one token shared by everyone: flooded
    right[:50, 0] = 999
    ia, ib = join_tokens(left, right, max_bucket=100)
    got = set(zip(ia.tolist(), ib.tolist(), strict=True))
    expected = {
        (i, j)
        for i in range(len(left))
        for j in range(len(right))
        if (set(left[i].tolist()) & set(right[j].tolist())) - {0, 999}
    }
    assert got == expected
    assert len(got) == len(ia)  # unique
    ca, cb, counts = join_tokens_counted(left, right, max_bucket=100)
    assert (ca == ia).all() and (cb == ib).all()
    for i, j, n in zip(ca.tolist(), cb.tolist(), counts.tolist(), strict=True):
        lt, rt = left[i].tolist(), right[j].tolist()
        assert n == sum(lt.count(t) * rt.count(t) for t in set(lt) - {0, 999})


def test_name_swap_and_formatting_give_the_same_encoding() -> None:
    enc = PersonEncoder(KEY_A)
    a = enc.encode(person())
    b = enc.encode(person(name="MONTGOMERY, Mr Christopher"))
    c = enc.encode(person(name="Montgomery Christopher", cards=["4921 8100 0000 0000"]))
    assert a == b == c


def test_typos_and_missing_fields_still_match_and_strangers_do_not() -> None:
    enc = PersonEncoder(KEY_A)
    base = enc.encode(person())
    typo = enc.encode(person(name="Christpher Montgomery", emails=[], cards=[]))
    no_dob = enc.encode(person(dob=None, emails=[], cards=[]))
    stranger = enc.encode(
        person(
            name="Alice Wong", dob=dt.date(1990, 1, 1), address="3 Mill Lane", emails=[], cards=[]
        )
    )
    matches = match_persons([base], [typo, no_dob, stranger])
    assert sorted((m.right, m.via) for m in matches) == [(0, ("clk",)), (1, ("clk",))]
    assert all(m.dice >= 0.8 for m in matches)


def test_card_and_email_tokens_match_on_their_own() -> None:
    enc = PersonEncoder(KEY_A)
    a = enc.encode(person())
    other = enc.encode(PersonFields.from_raw(name="Bob Stone", cards=[CARD]))
    (m,) = match_persons([a], [other])
    assert m.via == ("card",) and m.dice < 0.8


def test_encodings_never_contain_plain_name_pieces() -> None:
    enc = PersonEncoder(KEY_A)
    e = enc.encode(person())
    blobs = [e.clk, e.b64().encode(), *(t.encode() for t in (*e.cards, *e.emails, *e.blocks))]
    pieces = ["christopher", "montgomery", "chri", "mont", "gomery", "kingsway", "1984", "sw1a"]
    for blob in blobs:
        low = blob.lower()
        for piece in pieces:
            assert piece.encode() not in low
            assert piece.encode()[::-1] not in low
    assert CARD.encode() not in b"".join(blobs)


def test_the_key_changes_everything() -> None:
    p = person()
    a, b = PersonEncoder(KEY_A).encode(p), PersonEncoder(KEY_B).encode(p)
    assert a.scheme == b.scheme and a.key_id != b.key_id
    assert set(a.cards).isdisjoint(b.cards) and set(a.emails).isdisjoint(b.emails)
    assert a.blocks and set(a.blocks).isdisjoint(b.blocks)
    # same person, other key: the filters are as unlike as two unrelated filters
    (m,) = match_persons([enc_of(a.clk, ("1",))], [enc_of(b.clk, ("1",))], threshold=0.0)
    assert m.dice < 0.7
    with pytest.raises(InvalidInput, match="different parameters or secrets"):
        match_persons([a], [b])


def test_balanced_filters_have_constant_weight() -> None:
    enc = PersonEncoder(KEY_A, EncodingParams(balanced=True))
    weights = {
        int(np.unpackbits(np.frombuffer(enc.encode(f).clk, np.uint8)).sum())
        for f in (person(), person(name="Al Wu", address=None, dob=None))
    }
    assert weights == {enc.params.filter_bits // 2}


def test_wire_round_trip_through_the_signal_policy() -> None:
    e = PersonEncoder(KEY_A).encode(person())
    signal = make_signal("person", e.b64(), "person:9", e.meta())
    back = from_signal(signal["value"], signal["meta"])
    assert back == PersonEncoding(e.scheme, e.key_id, e.clk, e.blocks)
    assert back.bits == EncodingParams().filter_bits
    for kind, values in (("card_token", e.cards), ("email_token", e.emails)):
        for v in values:
            make_signal(kind, v, "person:9", {"key_id": e.key_id})
    with pytest.raises(InvalidInput):
        from_signal("not base64!", signal["meta"])
    assert base64.b64decode(e.b64()) == e.clk


def test_secret_files(tmp_path: Path) -> None:
    path = tmp_path / "op.key"
    made = write_secret(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert OperationSecret.load(path).key_id == made.key_id
    path.chmod(0o644)
    with pytest.raises(IntegrityError, match="chmod 600"):
        OperationSecret.load(path)
    with pytest.raises(InvalidInput, match="at least 32 bytes"):
        OperationSecret(b"short")
    with pytest.raises(InvalidInput, match="not valid"):
        PersonFields.from_raw(name="x y", cards=["4921810000000001"])


def test_soundex() -> None:
    assert [soundex(w) for w in ("robert", "rupert", "ashcraft", "tymczak", "a")] == [
        "R163",
        "R163",
        "A261",
        "T522",
        "A000",
    ]


def test_blocked_matching_keeps_nearly_all_brute_force_matches() -> None:
    _, (left, right) = ev.cross_agency(600, 2, 0.6, seed=5)
    enc = PersonEncoder(KEY_A)
    ea, eb = ev.encode_all(enc, left), ev.encode_all(enc, right)
    found = [m for m in match_persons(ea, eb) if "clk" in m.via]
    blocked = {(m.left, m.right) for m in found if m.dice >= DEFAULT_THRESHOLD}
    brute = {(m.left, m.right) for m in match_persons_brute(ea, eb)}
    assert blocked <= brute
    assert len(blocked) >= 0.85 * len(brute)
    truth = ev.true_pairs(left, right)
    # pairs admitted by the shared-token bonus (Dice below the threshold) are true pairs too
    bonus = {(m.left, m.right) for m in found} - blocked
    assert bonus and len(bonus & truth) >= 0.95 * len(bonus)
    everything = blocked | bonus
    assert len(everything & truth) >= 0.95 * len(everything)


def match_persons_brute(a: list[PersonEncoding], b: list[PersonEncoding]) -> list[PersonMatch]:
    """All pairs, no blocking: give every encoding one shared token."""
    return match_persons(
        [enc_of(e.clk, ("1",)) for e in a], [enc_of(e.clk, ("1",)) for e in b], max_bucket=10**9
    )


@pytest.mark.slow
def test_frequency_attack_breaks_name_only_encodings_but_not_ours() -> None:
    _, (records,) = ev.cross_agency(4000, 1, 1.0, seed=9)
    enc = PersonEncoder(KEY_A)
    ours = ev.attack_report(ev.encode_all(enc, records), records, enc.params)
    names_only = [ev.AgencyRecord(r.key, PersonFields(names=r.fields.names), "") for r in records]
    naive = ev.attack_report(ev.encode_all(enc, names_only), names_only, enc.params)
    assert naive["max"] > 0.03
    assert ours["max"] < 0.01


def test_best_recall() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    truth = np.array([True, True, False, True])
    assert ev.best_recall(scores, truth, 4) == (0.5, 1.0, 0.8)
    assert ev.precision_recall(scores, truth, 4, 0.6) == (0.75, 0.75)


@pytest.mark.parametrize("words", [3, 8, 16, 32])
def test_dice_pairs_equals_python_popcount(words: int) -> None:
    rng = np.random.default_rng(words)
    a = rng.integers(0, 2**63, size=(50, words), dtype=np.uint64)
    b = rng.integers(0, 2**63, size=(40, words), dtype=np.uint64) | np.uint64(2**63)
    ia = rng.integers(0, 50, 300)
    ib = rng.integers(0, 40, 300)
    got = dice_pairs(a, b, ia, ib, chunk=64)
    for k in range(300):
        x = int.from_bytes(a[ia[k]].tobytes())
        y = int.from_bytes(b[ib[k]].tobytes())
        assert got[k] == pytest.approx(_dice(x, y))
