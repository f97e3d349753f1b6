"""The policy language and the rule that flagged-only persons are never prioritised."""

from __future__ import annotations

import datetime as dt

import pytest

from vigil.errors import InvalidInput
from vigil.persons.policy import CORROBORATE, CORROBORATE_TEXT, PersonFacts, Policy, assess

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _facts(flags: dict[int, list[str]], n_records: int = 2) -> PersonFacts:
    facts = PersonFacts(person_id=1)
    for i in range(1, n_records + 1):
        facts.records.append(
            {
                "id": i,
                "ts": NOW - dt.timedelta(days=40 * i),
                "site": f"s{i}",
                "amount": 10.0,
                "batch_id": 1,
            }
        )
    facts.refs.append(
        {
            "ref_id": 9,
            "kind": "register",
            "category": "register",
            "match_weight": 25.0,
            "comparisons": {},
        }
    )
    facts.refs.append(
        {
            "ref_id": 10,
            "kind": "roles",
            "category": "teacher",
            "match_weight": 22.0,
            "comparisons": {},
        }
    )
    facts.flags = {rid: [{"code": c, "detail": {}} for c in codes] for rid, codes in flags.items()}
    return facts


def test_default_policy_bands_a_registered_teacher_first_with_factors() -> None:
    pol = Policy.load()
    a = assess(_facts({}), pol, NOW)
    assert a.band == "P1" and a.confidence == "high"
    rules = {f["rule"] for f in a.factors}
    assert {"on_register", "access_to_children", "recent_activity", "several_sites"} <= rules
    assert a.score == sum(f["weight"] for f in a.factors)


def test_flagged_only_person_is_never_banded_whatever_the_score() -> None:
    pol = Policy.load()
    a = assess(_facts({1: ["card_compromised"], 2: ["no_site_access", "chargeback"]}), pol, NOW)
    assert a.band == CORROBORATE
    assert a.confidence == CORROBORATE_TEXT
    assert a.score >= 170  # the factors are still shown, so corroboration can start from them
    assert {f["code"] for f in a.flags} == {"card_compromised", "no_site_access", "chargeback"}
    # record-based rules count clean records only
    assert not {"recent_activity", "several_sites"} & {f["rule"] for f in a.factors}


def test_one_clean_record_is_enough_and_advisory_flags_only_reduce_confidence() -> None:
    pol = Policy.load()
    a = assess(_facts({1: ["card_compromised"]}), pol, NOW)
    assert a.band == "P1" and a.confidence == "reduced"
    b = assess(_facts({1: ["site_high_fraud_share"], 2: ["site_high_fraud_share"]}), pol, NOW)
    assert b.band == "P1" and b.confidence == "reduced"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [", "YAML"),
        ("bands: []", "at least one band"),
        ("bands: [{name: corroborate, min_score: 0}]", "reserved"),
        (
            "bands: [{name: P1, min_score: 0}]\nrules: [{id: a, weight: 1, when: {magic: {}}}]",
            "unknown condition",
        ),
        (
            "bands: [{name: P1, min_score: 0}]\nrules: [{id: a, weight: 1, when: "
            "{records: {min_count: 1, within_days: 3}}}]",
            "one of",
        ),
        ("bands: [{name: P1, min_score: 0}]\nflags: {untrusted: [made_up]}", "unknown flag"),
        ("bands: [{name: P1, min_score: 0}]\nextra: 1", "unknown keys"),
    ],
)
def test_policy_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Policy.parse(text)


def test_evidence_text_shows_the_term_frequency_adjustment() -> None:
    from vigil.persons.policy import comparison_text, describe_evidence

    common = {"level": "exact", "match_weight": 3.16, "term_frequency_adjustment": -1.58}
    plain = {"level": "same card", "match_weight": 9.23}
    assert comparison_text("surname", common) == "surname exact (+3.2, frequency -1.6)"
    assert comparison_text("identifiers", plain, digits=2) == "identifiers same card (+9.23)"
    text = describe_evidence(
        [
            {
                "ref_id": 9,
                "kind": "register",
                "match_weight": 21.4,
                "comparisons": {"surname": common, "identifiers": plain},
            }
        ]
    )
    assert "surname exact (+3.2, frequency -1.6), identifiers same card (+9.2)" in text
