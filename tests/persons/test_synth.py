"""The synthetic generator: reproducible by seed, with the messy profile's errors in the truth."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

from vigil.persons import nicknames, normalise, synth


def test_messy_profile_is_reproducible_and_records_its_errors(tmp_path: Path) -> None:
    cfg = synth.SynthConfig(persons=1500, seed=9, messy=True)
    a, b = synth.generate(cfg), synth.generate(cfg)
    assert a.records == b.records and a.noise == b.noise
    assert synth.generate(synth.SynthConfig(persons=1500, seed=10, messy=True)).records != a.records
    tags = Counter(t for v in a.noise.values() for t in v)
    assert set(tags) == set(synth.NOISE_TAGS), set(synth.NOISE_TAGS) - set(tags)
    by_ref = {r["record_ref"]: r for r in a.records}
    for ref, noise in a.noise.items():
        rec, who = by_ref[ref], a.identities[a.truth[ref]]
        name = normalise.parse_name(rec["cardholder"])
        if "name_swap" in noise and "initial" not in noise:
            assert name.last is not None and (who.last[:3] != name.last[:3] or name.first)
        if "nickname" in noise and not {"typo_first", "ocr", "initial", "no_first_name"} & set(
            noise
        ):
            shown = name.last if "name_swap" in noise else name.first
            assert who.first in nicknames.roots(shown) and shown != who.first
        if "dob_day_month_swapped" in noise:
            d, m, y = (int(x) for x in rec["dob"].split("/"))
            assert dt.date(y, d, m) == who.dob
        if "no_postcode" in noise:
            assert rec["postcode"] == ""
        if "no_first_name" in noise:
            assert name.first is None
            if not {"typo_last", "ocr"} & set(noise):
                assert name.last == who.last
    paths = a.write(tmp_path)
    with paths["truth"].open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["kind"] for r in rows} >= {"genuine", "household", "victim", "invented"}
    assert sum(1 for r in rows if r["noise"]) == len(a.noise)


def test_default_profile_has_no_messy_errors() -> None:
    data = synth.generate(synth.SynthConfig(persons=300, seed=2))
    assert data.noise == {}


def test_nickname_roots() -> None:
    assert nicknames.roots("bill") == ("william",)
    assert set(nicknames.roots("harry")) == {"harold", "henry"}
    assert nicknames.roots("william") == ("william",)
    assert nicknames.roots("zebedee") == ("zebedee",)
    assert nicknames.roots(None) == ()
    assert "peggy" in nicknames.diminutives("margaret")


def test_surname_skew_makes_a_few_surnames_common() -> None:
    def shares(skew: float) -> list[float]:
        data = synth.generate(synth.SynthConfig(persons=4000, seed=3, surname_skew=skew))
        counts = Counter(i.last for i in data.identities.values())
        total = sum(counts.values())
        return [counts[s] / total for s in synth.SURNAMES[:10]]

    uniform, skewed = shares(0.0), shares(1.0)
    assert max(uniform) < 0.005  # ~0.06 % each
    assert 0.01 < skewed[0] < 0.03  # Smith ~1.8 %
    assert 0.09 < sum(skewed) < 0.18  # the ten commonest ~13 %
