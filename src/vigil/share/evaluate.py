"""Measuring the person encoding: cross-agency test data, plain-text twin linkage, and a
frequency-alignment attack.

* :func:`cross_agency` draws a population with Zipf-distributed first names and surnames (real
  name frequencies are skewed, which is what frequency attacks feed on) and gives each agency its
  own noisy view of the persons it holds: typos, initials, swapped name order, a middle name
  present or not, missing or mistyped dates of birth, missing or moved addresses.
* :func:`plain_scores` is the *same* linkage on plain text: the same blocking keys and the
  same weighted q-gram sets, compared exactly instead of through a Bloom filter, so the gap
  between the two is what the encoding costs.
* :func:`frequency_attack` aligns the most frequent encoded values (whole filters, blocking
  tokens, or filters projected onto their most telling bits) with the most frequent names and
  counts how many records it re-identifies; :func:`attack_report` runs every variant.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.persons.cards import luhn_complete
from vigil.persons.synth import (
    FIRST_NAMES,
    STREET_TYPES,
    STREETS,
    SURNAMES,
    UK_AREAS,
    add_typo,
)
from vigil.share.persons import (
    SLOTS,
    EncodingParams,
    PersonEncoder,
    PersonEncoding,
    PersonFields,
    blocking_values,
    features,
    join_tokens_counted,
    soundex,
)


@dataclass(frozen=True)
class TruePerson:
    """Ground truth of one generated person."""

    key: int
    first: str
    middle: str | None
    last: str
    dob: dt.date
    address: str
    postcode: str
    email: str
    card: str


@dataclass(frozen=True)
class AgencyRecord:
    """One agency's view of a person (what it would encode) and the true person key."""

    key: int
    fields: PersonFields
    display_name: str


def _zipf_weights(n: int, offset: int) -> list[float]:
    """Zipf-Mandelbrot weights ``1 / (rank + offset)``: the offset sets the top name's share."""
    return [1.0 / (r + offset) for r in range(n)]


class _Noise:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def typo(self, word: str) -> str:
        return add_typo(self.rng, word)


def population(n: int, seed: int = 0) -> list[TruePerson]:
    """``n`` true persons with skewed name frequencies and mostly unique other attributes.

    The most frequent first name is about 3 % of persons and the most frequent surname about
    1 % (England and Wales: "Smith" is about 1.1 %), falling off as 1/rank.
    """
    rng = random.Random(seed)
    fw = _zipf_weights(len(FIRST_NAMES), 10)
    sw = _zipf_weights(len(SURNAMES), 20)
    people = []
    for key in range(n):
        first = rng.choices(FIRST_NAMES, fw)[0]
        last = rng.choices(SURNAMES, sw)[0].replace("'", "")
        middle = rng.choices(FIRST_NAMES, fw)[0] if rng.random() < 0.2 else None
        area, _town = rng.choice(UK_AREAS)
        pc = f"{area}{rng.randint(1, 30)} {rng.randint(0, 9)}{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}"
        addr = f"{rng.randint(1, 250)} {rng.choice(STREETS)} {rng.choice(STREET_TYPES)[0]}"
        card = luhn_complete("492181" + "".join(rng.choice("0123456789") for _ in range(9)))
        people.append(
            TruePerson(
                key=key,
                first=first,
                middle=middle,
                last=last,
                dob=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 55)),
                address=addr,
                postcode=pc,
                email=f"{first}.{last}{rng.randint(1, 999)}@example.org",
                card=card,
            )
        )
    return people


def view(p: TruePerson, rng: random.Random, *, noise: float = 1.0) -> AgencyRecord:
    """One agency's noisy record of ``p`` (``noise`` scales every error rate)."""
    nz = _Noise(rng)
    first, last, middle = p.first, p.last, p.middle
    r = rng.random()
    if r < 0.15 * noise:
        if rng.random() < 0.5:
            first = nz.typo(first)
        else:
            last = nz.typo(last)
    elif r < 0.20 * noise:
        first = first[0]
    if middle and rng.random() < 0.5:
        middle = None
    tokens = [first] + ([middle] if middle else []) + [last]
    if rng.random() < 0.2 * noise:
        tokens = [last, *tokens[:-1]]  # surname first, no comma: the order is lost
    dob: dt.date | None = p.dob
    r = rng.random()
    if r < 0.2 * noise:
        dob = None
    elif r < 0.23 * noise:
        if p.dob.day <= 12 and p.dob.day != p.dob.month:
            dob = p.dob.replace(day=p.dob.month, month=p.dob.day)
        else:
            dob = p.dob + dt.timedelta(days=rng.choice((-1, 1)))
    address: str | None = p.address
    postcode: str | None = p.postcode
    r = rng.random()
    if r < 0.2 * noise:
        address = postcode = None
    elif r < 0.3 * noise:
        address = f"{rng.randint(1, 250)} {rng.choice(STREETS)} road"
        postcode = f"{rng.choice(UK_AREAS)[0]}{rng.randint(1, 30)} 1AA"
    elif r < 0.35 * noise:
        address = None
    emails = (p.email,) if rng.random() < 0.3 else ()
    cards = (p.card,) if rng.random() < 0.3 else ()
    name = " ".join(t.upper() if rng.random() < 0.3 else t.title() for t in tokens)
    fields = PersonFields.from_raw(
        name=name, dob=dob, postcode=postcode, address=address, emails=emails, cards=cards
    )
    return AgencyRecord(key=p.key, fields=fields, display_name=name)


def cross_agency(
    n_people: int, n_agencies: int = 2, share: float = 0.6, seed: int = 0, noise: float = 1.0
) -> tuple[list[TruePerson], list[list[AgencyRecord]]]:
    """A population and each agency's records of a random ``share`` of it."""
    people = population(n_people, seed)
    rng = random.Random(seed + 1)
    agencies = []
    for _ in range(n_agencies):
        held = [p for p in people if rng.random() < share]
        agencies.append([view(p, rng, noise=noise) for p in held])
    return people, agencies


def true_pairs(left: Sequence[AgencyRecord], right: Sequence[AgencyRecord]) -> set[tuple[int, int]]:
    """Index pairs of the same true person."""
    where = {r.key: j for j, r in enumerate(right)}
    return {(i, where[r.key]) for i, r in enumerate(left) if r.key in where}


# --- the same linkage on plain text -----------------------------------------------------------


def plain_candidates(
    left: Sequence[PersonFields],
    right: Sequence[PersonFields],
    values: Callable[[PersonFields], list[str]] = blocking_values,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Blocked pairs using the plain blocking values (same keys as the encoding, unkeyed), and
    how many blocking values each pair shares (for :func:`vigil.share.persons.evidence_score`)."""
    vocab: dict[str, int] = {}
    slots = max(SLOTS, max((len(values(f)) for f in [*left[:200], *right[:200]]), default=0))

    def mat(fs: Sequence[PersonFields]) -> npt.NDArray[np.uint64]:
        m = np.zeros((len(fs), slots + 4), dtype=np.uint64)
        for i, f in enumerate(fs):
            for j, v in enumerate(values(f)[: slots + 4]):
                m[i, j] = vocab.setdefault(v, len(vocab) + 1)
        return m

    return join_tokens_counted(mat(left), mat(right))


def with_name_pair(f: PersonFields) -> list[str]:
    """Evaluation only: the blocking values plus the two outer name codes alone (no second
    attribute), which a pair with a missing date of birth and a moved address still shares."""
    codes = sorted({soundex(t) for t in f.names if len(t) > 1})
    extra = [f"nn0|{codes[0]}|{codes[-1]}"] if len(codes) >= 2 else []
    return extra + blocking_values(f)


def plain_scores(
    left: Sequence[PersonFields],
    right: Sequence[PersonFields],
    ia: npt.NDArray[np.int64],
    ib: npt.NDArray[np.int64],
    params: EncodingParams | None = None,
) -> npt.NDArray[np.float64]:
    """Weighted Dice of the exact q-gram sets (weights = the encoder's hash counts)."""
    p = params or EncodingParams()
    fl = [dict(features(f, p)) for f in left]
    fr = [dict(features(f, p)) for f in right]
    out = np.empty(len(ia), dtype=np.float64)
    for n, (i, j) in enumerate(zip(ia.tolist(), ib.tolist(), strict=True)):
        a, b = fl[i], fr[j]
        common = sum(w for g, w in a.items() if g in b)
        denom = sum(a.values()) + sum(b.values())
        out[n] = 2.0 * common / denom if denom else 0.0
    return out


def best_recall(
    scores: npt.NDArray[np.float64],
    is_true: npt.NDArray[np.bool_],
    n_true: int,
    min_precision: float = 0.999,
) -> tuple[float, float, float]:
    """(recall, precision, threshold) of the lowest threshold keeping ``min_precision``."""
    if scores.size == 0 or n_true == 0:
        return 0.0, 1.0, 1.0
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], is_true[order]
    tp = np.cumsum(t)
    prec = tp / np.arange(1, len(t) + 1)
    # only cut between distinct scores
    last_of_value = np.r_[s[1:] != s[:-1], True]
    ok = np.nonzero((prec >= min_precision) & last_of_value)[0]
    if ok.size == 0:
        return 0.0, 1.0, 1.0
    k = ok[-1]
    return float(tp[k] / n_true), float(prec[k]), float(s[k])


def precision_recall(
    scores: npt.NDArray[np.float64], is_true: npt.NDArray[np.bool_], n_true: int, threshold: float
) -> tuple[float, float]:
    """(precision, recall) at a fixed threshold."""
    hit = scores >= threshold
    tp = int(is_true[hit].sum())
    n = int(hit.sum())
    return (tp / n if n else 1.0), (tp / n_true if n_true else 0.0)


# --- frequency attack -----------------------------------------------------------------------


def frequency_attack(
    observed: Sequence[Hashable | None],
    truth: Sequence[str],
    known_frequencies: Counter[str],
    min_group: int = 2,
) -> float:
    """Share of records re-identified by aligning value frequencies with name frequencies.

    The attacker sees ``observed`` (one value per record, ``None`` = nothing), knows the exact
    frequency of every name in the population (``known_frequencies``, a strong assumption) and
    assigns the i-th most frequent observed value to the i-th most frequent name. Values seen
    fewer than ``min_group`` times are not assigned (a unique value cannot be aligned by
    frequency). Returns the fraction of all records whose assigned name is their true name.
    """
    groups: dict[Hashable, list[int]] = {}
    for i, v in enumerate(observed):
        if v is not None:
            groups.setdefault(v, []).append(i)
    ranked_groups = sorted(
        (g for g in groups.values() if len(g) >= min_group), key=lambda g: (-len(g), g[0])
    )
    ranked_names = [n for n, _ in known_frequencies.most_common()]
    hits = 0
    for members, name in zip(ranked_groups, ranked_names, strict=False):
        hits += sum(1 for i in members if truth[i] == name)
    return hits / max(len(truth), 1)


def _projection(filters: npt.NDArray[np.uint8], width: int) -> list[Hashable]:
    """Each filter projected onto the ``width`` bit positions whose frequency is most extreme."""
    freq = filters.mean(axis=0)
    cols = np.argsort(-np.abs(freq - 0.5), kind="stable")[:width]
    sub = filters[:, cols]
    return [row.tobytes() for row in sub]


def attack_report(
    encodings: Sequence[PersonEncoding],
    records: Sequence[AgencyRecord],
    params: EncodingParams,
    seed: int = 0,
) -> dict[str, float]:
    """Re-identification above chance of every attack variant against every name target.

    Aligning *any* grouping with name frequencies hits some records by luck (a group of 300
    records given the top name holds about 3 % of its bearers), so each variant is also run on
    the same values shuffled across records, and the report holds ``rate - chance`` (floored
    at 0) per ``"<observed>/<target>"``, plus ``"max"``.
    """
    fbytes = params.filter_bits // 8
    filt = np.frombuffer(b"".join(e.clk for e in encodings), dtype=np.uint8)
    bits = np.unpackbits(filt.reshape(len(encodings), fbytes), axis=1)
    targets: dict[str, Callable[[AgencyRecord], str]] = {
        "full": lambda r: " ".join(sorted(r.fields.names)),
        "surname": lambda r: r.fields.names[-1] if r.fields.names else "",
        "first": lambda r: r.fields.names[0] if r.fields.names else "",
    }
    observed: dict[str, list[Hashable | None]] = {"filter": [e.clk for e in encodings]}
    for s in range(SLOTS):
        observed[f"block{s}"] = [e.blocks[s] if len(e.blocks) > s else None for e in encodings]
    for width in (8, 16, 24, 32):
        observed[f"bits{width}"] = _projection(bits, width)
    rng = random.Random(seed)
    out: dict[str, float] = {}
    for tname, fn in targets.items():
        truth = [fn(r) for r in records]
        freq = Counter(truth)
        for oname, obs in observed.items():
            shuffled = list(obs)
            rng.shuffle(shuffled)
            rate = frequency_attack(obs, truth, freq)
            chance = frequency_attack(shuffled, truth, freq)
            out[f"{oname}/{tname}"] = max(0.0, rate - chance)
    out["max"] = max(out.values())
    return out


def encode_all(enc: PersonEncoder, records: Sequence[AgencyRecord]) -> list[PersonEncoding]:
    """Encode every record."""
    return [enc.encode(r.fields) for r in records]
