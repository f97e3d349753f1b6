"""Synthetic payment records with ground truth, for tests, the demo and the benchmark.

Nothing here describes real people: names are drawn from common-name lists and syllables,
addresses and postcodes are invented (real UK postcode *areas*, random districts and units),
card numbers use the example BINs of ``data/bins.csv`` and pass the Luhn check, IP addresses
come from the documentation ranges' neighbourhood and are not looked up anywhere.

What the generator models (each with ground truth, so linkage and triage can be scored):

* genuine subscribers with one to several records: typos in names, initials, abbreviations,
  missing fields, a second card or e-mail, and moves to a new address;
* households sharing one card (different people, same card and address: must *not* merge);
* stolen-card fraud: records in an innocent cardholder's name with a foreign IP, no site
  access, charge-backs, verification failures, bursts that match a known breach, and one stolen
  card used under many invented names;
* reference data: sex-offender register entries, prior convictions (with category), roles with
  access to children (including some for fraud victims: they must still never be prioritised),
  compromised-card lists and known breaches;
* a follow-up batch in which convicted subscribers come back with the same cards.

With ``SynthConfig(messy=True)`` (``vigil persons generate --messy``) records also carry the
errors of real typed data (issue 15), each recorded per record in the ground truth's ``noise``
column: first and last name swapped without a comma, nicknames and diminutives (from the
packaged nickname table), OCR-like character confusions, a missing first name, date-of-birth
digit transpositions, day/month swaps, off-by-one days and year typos, postcode and address
typos, and missing postcodes or addresses, on top of the typos, initials, moves, shared
household cards and stolen-card fraud of the default profile. Same seed, same data.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil.persons.cards import CardVault, digits_only, luhn_complete

if TYPE_CHECKING:
    import pyarrow as pa
from vigil.persons.nicknames import diminutives

FIRST_NAMES = [
    "james",
    "john",
    "robert",
    "michael",
    "william",
    "david",
    "richard",
    "joseph",
    "thomas",
    "charles",
    "christopher",
    "daniel",
    "matthew",
    "anthony",
    "mark",
    "donald",
    "steven",
    "paul",
    "andrew",
    "joshua",
    "kenneth",
    "kevin",
    "brian",
    "george",
    "timothy",
    "ronald",
    "edward",
    "jason",
    "jeffrey",
    "ryan",
    "jacob",
    "gary",
    "nicholas",
    "eric",
    "jonathan",
    "stephen",
    "larry",
    "justin",
    "scott",
    "brandon",
    "benjamin",
    "samuel",
    "gregory",
    "alexander",
    "frank",
    "patrick",
    "raymond",
    "jack",
    "dennis",
    "jerry",
    "tyler",
    "aaron",
    "jose",
    "adam",
    "nathan",
    "henry",
    "douglas",
    "zachary",
    "peter",
    "kyle",
    "ethan",
    "walter",
    "noah",
    "jeremy",
    "christian",
    "keith",
    "roger",
    "terry",
    "gerald",
    "harold",
    "sean",
    "austin",
    "carl",
    "arthur",
    "lawrence",
    "dylan",
    "jesse",
    "jordan",
    "bryan",
    "billy",
    "joe",
    "bruce",
    "gabriel",
    "logan",
    "albert",
    "willie",
    "alan",
    "juan",
    "wayne",
    "elijah",
    "randy",
    "roy",
    "vincent",
    "ralph",
    "eugene",
    "russell",
    "bobby",
    "mason",
    "philip",
    "louis",
    "mary",
    "patricia",
    "jennifer",
    "linda",
    "elizabeth",
    "barbara",
    "susan",
    "jessica",
    "sarah",
    "karen",
    "lisa",
    "nancy",
    "betty",
    "margaret",
    "sandra",
    "ashley",
    "kimberly",
    "emily",
    "donna",
    "michelle",
    "carol",
    "amanda",
    "dorothy",
    "melissa",
    "deborah",
    "stephanie",
    "rebecca",
    "sharon",
    "laura",
    "cynthia",
    "kathleen",
    "amy",
    "angela",
    "shirley",
    "anna",
    "brenda",
    "pamela",
    "emma",
    "nicole",
    "helen",
    "samantha",
    "katherine",
    "christine",
    "debra",
    "rachel",
    "carolyn",
    "janet",
    "catherine",
    "maria",
    "heather",
    "diane",
    "ruth",
    "julie",
    "olivia",
    "joyce",
    "virginia",
    "victoria",
    "kelly",
    "lauren",
    "christina",
    "joan",
    "evelyn",
    "judith",
    "megan",
    "andrea",
    "cheryl",
    "hannah",
    "jacqueline",
    "martha",
    "gloria",
    "teresa",
    "ann",
    "sara",
    "madison",
    "frances",
    "kathryn",
    "janice",
    "jean",
    "abigail",
    "alice",
    "judy",
    "sophia",
    "grace",
    "denise",
    "amber",
    "doris",
    "marilyn",
    "danielle",
    "beverly",
    "isabella",
    "theresa",
    "diana",
    "natalie",
    "brittany",
    "charlotte",
    "marie",
    "kayla",
    "alexis",
    "lori",
    "oliver",
    "harry",
    "oscar",
    "leo",
    "archie",
    "alfie",
    "freddie",
    "theo",
    "isaac",
    "finley",
    "reuben",
    "rory",
    "callum",
    "owen",
    "declan",
    "niall",
    "ciaran",
    "eoin",
    "liam",
    "conor",
    "aidan",
    "fergus",
    "angus",
    "hamish",
    "euan",
    "craig",
    "gavin",
    "stuart",
    "graham",
    "neil",
    "ian",
    "colin",
    "duncan",
    "malcolm",
    "gordon",
    "alistair",
    "fiona",
    "morag",
    "ailsa",
    "kirsty",
    "shona",
]

_SURNAMES_BASE = [
    "smith",
    "jones",
    "williams",
    "taylor",
    "brown",
    "davies",
    "evans",
    "wilson",
    "thomas",
    "johnson",
    "roberts",
    "robinson",
    "thompson",
    "wright",
    "walker",
    "white",
    "edwards",
    "hughes",
    "green",
    "hall",
    "lewis",
    "harris",
    "clarke",
    "patel",
    "jackson",
    "wood",
    "turner",
    "martin",
    "cooper",
    "hill",
    "ward",
    "morris",
    "moore",
    "clark",
    "lee",
    "king",
    "baker",
    "harrison",
    "morgan",
    "allen",
    "james",
    "scott",
    "phillips",
    "watson",
    "davis",
    "parker",
    "price",
    "bennett",
    "young",
    "griffiths",
    "mitchell",
    "kelly",
    "cook",
    "carter",
    "richardson",
    "bailey",
    "collins",
    "bell",
    "shaw",
    "murphy",
    "miller",
    "cox",
    "richards",
    "khan",
    "marshall",
    "anderson",
    "simpson",
    "ellis",
    "adams",
    "singh",
    "begum",
    "wilkinson",
    "foster",
    "chapman",
    "powell",
    "webb",
    "rogers",
    "gray",
    "mason",
    "ali",
    "hunt",
    "hussain",
    "campbell",
    "matthews",
    "owen",
    "palmer",
    "holmes",
    "mills",
    "barnes",
    "knight",
    "lloyd",
    "butler",
    "russell",
    "barker",
    "fisher",
    "stevens",
    "jenkins",
    "murray",
    "dixon",
    "harvey",
    "graham",
    "pearson",
    "ahmed",
    "fletcher",
    "walsh",
    "kaur",
    "gibson",
    "howard",
    "andrews",
    "stewart",
    "elliott",
    "reynolds",
    "saunders",
    "payne",
    "fox",
    "ford",
    "pearce",
    "day",
    "brooks",
    "west",
    "lawrence",
    "cole",
    "atkinson",
    "bradley",
    "spencer",
    "gill",
    "dawson",
    "ball",
    "burton",
    "o'brien",
    "watts",
    "rose",
    "booth",
    "perry",
    "ryan",
    "grant",
    "wells",
    "armstrong",
    "francis",
    "rees",
    "hayes",
    "hart",
    "hudson",
    "newman",
    "barrett",
    "webster",
    "hunter",
    "gregory",
    "carr",
    "lowe",
    "page",
    "marsh",
    "riley",
    "dunn",
    "woods",
    "parsons",
    "berry",
    "stone",
    "reid",
    "holland",
    "hawkins",
    "harding",
    "porter",
    "robertson",
    "newton",
    "oliver",
    "reed",
    "kennedy",
    "williamson",
    "bird",
    "gardner",
    "shah",
    "dean",
    "lane",
    "cooke",
    "bates",
    "henderson",
    "parry",
    "burgess",
    "bishop",
    "walton",
    "burns",
    "nicholson",
    "shepherd",
    "ross",
    "cross",
    "long",
    "freeman",
    "warren",
    "nicholls",
    "hamilton",
]
_SUR_PRE = [
    "ash",
    "black",
    "brad",
    "brook",
    "burn",
    "cald",
    "cart",
    "chad",
    "clay",
    "crank",
    "dal",
    "dart",
    "dun",
    "east",
    "fair",
    "farn",
    "finch",
    "gold",
    "grim",
    "hal",
    "harr",
    "heath",
    "holl",
    "kent",
    "kirk",
    "lang",
    "lind",
    "marl",
    "mill",
    "north",
    "oak",
    "pen",
    "rad",
    "red",
    "ring",
    "rock",
    "sand",
    "shel",
    "stan",
    "thorn",
    "wal",
    "west",
    "whit",
    "wind",
    "wolf",
    "wood",
    "york",
]
_SUR_SUF = [
    "by",
    "bridge",
    "bury",
    "combe",
    "croft",
    "dale",
    "den",
    "don",
    "field",
    "ford",
    "gate",
    "ham",
    "hill",
    "hurst",
    "ington",
    "land",
    "ley",
    "low",
    "more",
    "ridge",
    "shaw",
    "stead",
    "ston",
    "thorpe",
    "ton",
    "well",
    "wick",
    "worth",
    "wood",
]
SURNAMES = tuple(_SURNAMES_BASE) + tuple(p + s for p in _SUR_PRE for s in _SUR_SUF)

STREETS = [
    "high",
    "church",
    "station",
    "victoria",
    "green",
    "manor",
    "park",
    "queens",
    "kings",
    "grange",
    "mill",
    "school",
    "new",
    "york",
    "albert",
    "chester",
    "windsor",
    "london",
    "springfield",
    "highfield",
    "west",
    "north",
    "south",
    "east",
    "main",
    "elm",
    "oak",
    "ash",
    "beech",
    "cedar",
    "willow",
    "birch",
    "chestnut",
    "meadow",
    "orchard",
    "brook",
    "river",
    "bridge",
    "castle",
    "abbey",
    "market",
    "hill",
    "valley",
    "forest",
    "heath",
    "lime",
    "maple",
    "poplar",
    "rowan",
    "holly",
]
STREET_TYPES = (
    ("road", "rd"),
    ("street", "st"),
    ("lane", "ln"),
    ("avenue", "ave"),
    ("close", "cl"),
    ("drive", "dr"),
    ("way", "way"),
    ("crescent", "cres"),
)

UK_AREAS: tuple[tuple[str, str], ...] = (
    ("B", "birmingham"),
    ("BS", "bristol"),
    ("CF", "cardiff"),
    ("CT", "canterbury"),
    ("CV", "coventry"),
    ("DE", "derby"),
    ("E", "london"),
    ("EH", "edinburgh"),
    ("EX", "exeter"),
    ("G", "glasgow"),
    ("GL", "gloucester"),
    ("HU", "hull"),
    ("L", "liverpool"),
    ("LE", "leicester"),
    ("LS", "leeds"),
    ("M", "manchester"),
    ("ME", "rochester"),
    ("N", "london"),
    ("NE", "newcastle"),
    ("NG", "nottingham"),
    ("NR", "norwich"),
    ("OX", "oxford"),
    ("PL", "plymouth"),
    ("PO", "portsmouth"),
    ("S", "sheffield"),
    ("SE", "london"),
    ("SO", "southampton"),
    ("ST", "stoke"),
    ("SW", "london"),
    ("SY", "shrewsbury"),
    ("TN", "tonbridge"),
    ("W", "london"),
    ("YO", "york"),
    ("BT", "belfast"),
)
OTHER_COUNTRIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("US", "{n} {street} {type}, springfield", ("414720", "426684", "542418")),
    ("IE", "{n} {street} {type}, dublin", ("455673",)),
    ("DE", "{street}strasse {n}, berlin", ("400115", "520473")),
    ("NL", "{street}straat {n}, utrecht", ("450875",)),
    ("CA", "{n} {street} {type}, toronto", ("453998",)),
)
GB_BINS = ("492181", "492182", "475129", "535522", "454313")
FRAUD_IP_COUNTRIES = ("RU", "UA", "ID", "BR", "VN", "NG", "RO")
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "post.example")
SITES = (
    "site-alpha.example",
    "site-bravo.example",
    "site-charlie.example",
    "site-delta.example",
    "site-echo.example",
)
HIGH_FRAUD_SITE = "site-foxtrot.example"
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_4)",
    "Mozilla/5.0 (X11; Linux x86_64)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
)
ROLES_WITH_CHILDREN = (
    "teacher",
    "youth_worker",
    "foster_carer",
    "sports_coach",
    "childminder",
    "household_with_children",
)
OFFENCES = (
    ("sexual assault of a child", "contact"),
    ("sexual activity with a child", "contact"),
    ("possession of indecent images of children", "images"),
    ("distribution of indecent images of children", "images"),
    ("online grooming", "non_contact"),
    ("exposure", "non_contact"),
    ("burglary", "other"),
    ("fraud by false representation", "other"),
)

RECORD_COLUMNS = (
    "record_ref",
    "cardholder",
    "address",
    "postcode",
    "country",
    "dob",
    "email",
    "phone",
    "card_number",
    "card_expiry",
    "ip",
    "ip_country",
    "user_agent",
    "timestamp",
    "amount",
    "site",
    "logins",
    "last_login",
    "avs_result",
    "chargeback",
)

MAPPING_YAML = """\
# Column mapping for the synthetic generator's records.csv (vigil persons import --mapping).
# Left: Vigil's field; right: the column in the file.
columns:
  record_ref: record_ref
  name: cardholder
  address: address
  postcode: postcode
  country: country
  dob: dob
  email: email
  phone: phone
  card_number: card_number
  card_expiry: card_expiry
  ip: ip
  ip_country: ip_country
  user_agent: user_agent
  timestamp: timestamp
  amount: amount
  site: site
  access_count: logins
  last_access: last_login
  verification: avs_result
  chargeback: chargeback
date_formats:
  dob: "%d/%m/%Y"
verification_failures: [fail, "N", declined]
"""


def add_typo(rng: random.Random, word: str) -> str:
    """One typing error inside ``word`` (swap, drop, replace or double a letter); words under
    three letters are left alone. Shared by the generators so their errors look alike."""
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.randrange(4)
    if op == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == 1:
        return word[:i] + word[i + 1 :]
    if op == 2:
        return word[:i] + rng.choice("aeioulnrst") + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


@dataclass
class SynthConfig:
    """Knobs of the generator (defaults give a small, varied operation)."""

    persons: int = 1000
    seed: int = 0
    typo_rate: float = 0.12
    initial_rate: float = 0.04
    move_rate: float = 0.15
    missing_dob_rate: float = 0.35
    missing_phone_rate: float = 0.4
    second_card_rate: float = 0.12
    second_email_rate: float = 0.15
    household_rate: float = 0.04
    fraud_victim_rate: float = 0.05
    multi_name_cards: float = 0.004
    register_rate: float = 0.03
    conviction_rate: float = 0.04
    role_rate: float = 0.05
    abroad_rate: float = 0.15
    start: dt.date = dt.date(2025, 1, 1)
    end: dt.date = dt.date(2026, 10, 31)
    messy: bool = False
    """Add the errors of real typed records (the rates below apply only when set)."""
    swap_rate: float = 0.05
    nickname_rate: float = 0.06
    ocr_rate: float = 0.03
    missing_first_rate: float = 0.02
    dob_error_rate: float = 0.06
    postcode_typo_rate: float = 0.05
    missing_postcode_rate: float = 0.03
    address_typo_rate: float = 0.06
    missing_address_rate: float = 0.03
    surname_skew: float = 0.0
    """0: surnames drawn uniformly from :data:`SURNAMES` (each ~0.06 %). Above 0, a few are
    very common, as in real populations: the k-th surname (Smith first) is drawn with weight
    ``(k + 10) ** -surname_skew`` (1.0: Smith 1.8 %, the ten commonest 13 %, the rarest
    0.013 %), which is what the term-frequency adjustment of the linkage is for."""


NOISE_TAGS = (
    "typo_first",
    "typo_last",
    "initial",
    "nickname",
    "ocr",
    "no_first_name",
    "name_swap",
    "dob_transposed",
    "dob_day_month_swapped",
    "dob_off_by_one",
    "dob_year_typo",
    "postcode_typo",
    "no_postcode",
    "address_typo",
    "no_address",
)
"""The record errors of the messy profile, as written in ``truth.csv``'s ``noise`` column."""

OCR_CONFUSIONS = (
    ("rn", "m"),
    ("m", "rn"),
    ("cl", "d"),
    ("d", "cl"),
    ("l", "1"),
    ("i", "l"),
    ("o", "0"),
    ("e", "c"),
    ("h", "b"),
    ("u", "v"),
    ("a", "o"),
    ("vv", "w"),
    ("w", "vv"),
    ("n", "h"),
)


@dataclass
class Identity:
    """One synthetic person's true attributes (ground truth)."""

    key: str
    first: str
    last: str
    dob: dt.date
    country: str
    addresses: list[tuple[str, str]]
    emails: list[str]
    phone: str
    cards: list[str]
    kind: str = "genuine"
    """``genuine``, ``household`` (shares a card), ``victim`` or ``invented`` (fraud)."""


@dataclass
class SynthData:
    """Everything the generator produced."""

    records: list[dict[str, Any]]
    truth: dict[str, str]
    """record_ref → true identity key."""
    fraud_refs: set[str]
    identities: dict[str, Identity]
    register: list[dict[str, Any]] = field(default_factory=list)
    convictions: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    compromised: list[dict[str, Any]] = field(default_factory=list)
    breaches: list[dict[str, Any]] = field(default_factory=list)
    config: SynthConfig = field(default_factory=SynthConfig)
    noise: dict[str, list[str]] = field(default_factory=dict)
    """record_ref → the errors put into that record (messy profile; see :data:`NOISE_TAGS`)."""

    def write(self, folder: Path | str) -> dict[str, Path]:
        """Write CSV files (records, truth, reference lists) and the mapping into ``folder``."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "records": _write_csv(out / "records.csv", RECORD_COLUMNS, self.records),
            "truth": _write_csv(
                out / "truth.csv",
                ("record_ref", "person_key", "is_fraud", "kind", "noise"),
                (
                    {
                        "record_ref": r,
                        "person_key": k,
                        "is_fraud": int(r in self.fraud_refs),
                        "kind": self.identities[k].kind if k in self.identities else "",
                        "noise": " ".join(self.noise.get(r, ())),
                    }
                    for r, k in self.truth.items()
                ),
            ),
            "register": _write_csv(out / "register.csv", REGISTER_COLUMNS, self.register),
            "convictions": _write_csv(
                out / "convictions.csv", CONVICTION_COLUMNS, self.convictions
            ),
            "roles": _write_csv(out / "roles.csv", ROLE_COLUMNS, self.roles),
            "compromised_cards": _write_csv(
                out / "compromised_cards.csv", COMPROMISED_COLUMNS, self.compromised
            ),
            "breaches": _write_csv(out / "breaches.csv", BREACH_COLUMNS, self.breaches),
        }
        mapping = out / "mapping.yaml"
        mapping.write_text(MAPPING_YAML, encoding="utf-8")
        paths["mapping"] = mapping
        return paths


REGISTER_COLUMNS = ("ref", "name", "dob", "address", "postcode", "country", "registered_on")
CONVICTION_COLUMNS = (
    "ref",
    "name",
    "dob",
    "postcode",
    "country",
    "offence",
    "category",
    "convicted_on",
)
ROLE_COLUMNS = ("ref", "name", "dob", "address", "postcode", "country", "role", "source")
COMPROMISED_COLUMNS = ("card_number", "status", "breach", "reported_on")
BREACH_COLUMNS = ("name", "start", "end", "site", "bins")


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


class _Gen:
    def __init__(self, cfg: SynthConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.records: list[dict[str, Any]] = []
        self.truth: dict[str, str] = {}
        self.fraud: set[str] = set()
        self.ids: dict[str, Identity] = {}
        self.n_rec = 0
        self.noise: dict[str, list[str]] = {}
        self.used_cards: set[str] = set()
        self._surname_cum: list[float] = []
        if cfg.surname_skew > 0:
            total = 0.0
            for k in range(1, len(SURNAMES) + 1):
                total += (k + 10) ** -cfg.surname_skew
                self._surname_cum.append(total)
        self.span_s = int(
            (
                dt.datetime.combine(cfg.end, dt.time()) - dt.datetime.combine(cfg.start, dt.time())
            ).total_seconds()
        )

    # -- attribute generators --------------------------------------------------------------
    def card(self, bins: Sequence[str]) -> str:
        while True:
            prefix = self.rng.choice(bins)
            body = "".join(self.rng.choice("0123456789") for _ in range(15 - len(prefix)))
            number = luhn_complete(prefix + body)
            if number not in self.used_cards:
                self.used_cards.add(number)
                return number

    def uk_address(self) -> tuple[str, str]:
        area, town = self.rng.choice(UK_AREAS)
        street = self.rng.choice(STREETS)
        typ = self.rng.choice(STREET_TYPES)[0]
        n = self.rng.randint(1, 250)
        district = self.rng.randint(1, 30)
        unit = self.rng.choice("ABDEFGHJLNPQRSTUWXYZ") + self.rng.choice("ABDEFGHJLNPQRSTUWXYZ")
        postcode = f"{area}{district} {self.rng.randint(0, 9)}{unit}"
        return f"{n} {street} {typ}, {town}", postcode

    def foreign_address(self, fmt: str) -> tuple[str, str]:
        street = self.rng.choice(STREETS)
        typ = self.rng.choice(STREET_TYPES)[0]
        n = self.rng.randint(1, 250)
        return fmt.format(n=n, street=street, type=typ), f"{self.rng.randint(10000, 99999)}"

    def email(self, first: str, last: str) -> str:
        style = self.rng.randrange(4)
        num = self.rng.randint(1, 999)
        local = (
            f"{first}.{last}{num}",
            f"{first[0]}{last}{num}",
            f"{first}{num}{last[:3]}",
            f"{last}.{first}{num}",
        )[style]
        return f"{local.replace(chr(39), '')}@{self.rng.choice(EMAIL_DOMAINS)}"

    def phone(self) -> str:
        return "07" + "".join(self.rng.choice("0123456789") for _ in range(9))

    def dob(self) -> dt.date:
        return dt.date(1950, 1, 1) + dt.timedelta(days=self.rng.randint(0, 365 * 52))

    def ts(self) -> dt.datetime:
        return dt.datetime.combine(self.cfg.start, dt.time()) + dt.timedelta(
            seconds=self.rng.randint(0, self.span_s)
        )

    def ip(self) -> str:
        return ".".join(str(self.rng.randint(1, 254)) for _ in range(4))

    def surname(self) -> str:
        """A surname, uniform or skewed (:attr:`SynthConfig.surname_skew`)."""
        if not self._surname_cum:
            return self.rng.choice(SURNAMES)
        return self.rng.choices(SURNAMES, cum_weights=self._surname_cum)[0]

    def new_identity(self, key: str, kind: str = "genuine") -> Identity:
        first = self.rng.choice(FIRST_NAMES)
        last = self.surname()
        if self.rng.random() < self.cfg.abroad_rate:
            country, fmt, bins = self.rng.choice(OTHER_COUNTRIES)
            addresses = [self.foreign_address(fmt)]
        else:
            country, bins = "GB", GB_BINS
            addresses = [self.uk_address()]
        ident = Identity(
            key=key,
            first=first,
            last=last,
            dob=self.dob(),
            country=country,
            addresses=addresses,
            emails=[self.email(first, last)],
            phone=self.phone(),
            cards=[self.card(bins)],
            kind=kind,
        )
        self.ids[key] = ident
        return ident

    # -- noise ------------------------------------------------------------------------------
    def typo(self, word: str) -> str:
        return add_typo(self.rng, word)

    def display_name(self, ident: Identity, tags: list[str] | None = None) -> str:
        if self.cfg.messy and tags is not None:
            return self.messy_name(ident, tags)
        first, last = ident.first, ident.last
        r = self.rng.random()
        if r < self.cfg.typo_rate:
            if self.rng.random() < 0.5:
                first = self.typo(first)
            else:
                last = self.typo(last)
        elif r < self.cfg.typo_rate + self.cfg.initial_rate:
            first = first[0]
        return self.name_style(first, last)

    def name_style(self, first: str, last: str) -> str:
        style = self.rng.randrange(5)
        if style == 0:
            return f"{last.upper()}, {first.title()}"
        if style == 1:
            return f"{first.upper()} {last.upper()}"
        if style == 2:
            return (
                f"Mr {first.title()} {last.title()}"
                if self.rng.random() < 0.5
                else (f"{first.title()} {last.title()}")
            )
        return f"{first.title()} {last.title()}"

    def ocr(self, word: str) -> str:
        options = [(a, b) for a, b in OCR_CONFUSIONS if a in word[1:]]
        if not options:
            return word
        a, b = self.rng.choice(options)
        i = word.index(a, 1)
        return word[:i] + b + word[i + len(a) :]

    def messy_name(self, ident: Identity, tags: list[str]) -> str:
        """A name with the messy profile's errors, each independent of the others."""
        cfg, rnd = self.cfg, self.rng.random
        first, last = ident.first, ident.last
        if rnd() < cfg.nickname_rate:
            nicks = diminutives(first)
            if nicks:
                first = self.rng.choice(nicks)
                tags.append("nickname")
        if rnd() < cfg.typo_rate:
            if rnd() < 0.5:
                first, tag = self.typo(first), "typo_first"
            else:
                last, tag = self.typo(last), "typo_last"
            tags.append(tag)
        if rnd() < cfg.ocr_rate:
            if rnd() < 0.5:
                first = self.ocr(first)
            else:
                last = self.ocr(last)
            tags.append("ocr")
        r = rnd()
        if r < cfg.initial_rate:
            first = first[0]
            tags.append("initial")
        elif r < cfg.initial_rate + cfg.missing_first_rate:
            tags.append("no_first_name")
            return last.title() if rnd() < 0.5 else last.upper()
        if rnd() < cfg.swap_rate:
            tags.append("name_swap")
            swapped = f"{last} {first}"
            return swapped.upper() if rnd() < 0.4 else swapped.title()
        return self.name_style(first, last)

    def messy_dob(self, dob: dt.date, tags: list[str]) -> str:
        """The date of birth as typed, with one error at ``dob_error_rate``."""
        text = dob.strftime("%d/%m/%Y")
        if self.rng.random() >= self.cfg.dob_error_rate:
            return text
        for _ in range(8):
            kind = self.rng.randrange(4)
            if kind == 0:  # two adjacent digits transposed (day, month or the year's last two)
                digits = dob.strftime("%d%m%Y")
                i = self.rng.choice((0, 2, 6))
                cand = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
                tag = "dob_transposed"
            elif kind == 1:  # day and month swapped
                cand = dob.strftime("%m%d%Y")
                tag = "dob_day_month_swapped"
            elif kind == 2:
                cand = (dob + dt.timedelta(days=self.rng.choice((-1, 1)))).strftime("%d%m%Y")
                tag = "dob_off_by_one"
            else:  # one digit of the year mistyped
                digits = dob.strftime("%d%m%Y")
                i = self.rng.choice((6, 7))
                cand = digits[:i] + self.rng.choice("0123456789") + digits[i + 1 :]
                tag = "dob_year_typo"
            try:
                got = dt.date(int(cand[4:]), int(cand[2:4]), int(cand[:2]))
            except ValueError:
                continue
            if got != dob:
                tags.append(tag)
                return got.strftime("%d/%m/%Y")
        return text

    def messy_location(self, address: str, postcode: str, tags: list[str]) -> tuple[str, str]:
        """Address and postcode as typed: typos or missing at the messy profile's rates."""
        cfg, rnd = self.cfg, self.rng.random
        if rnd() < cfg.address_typo_rate:
            words = address.split(" ")
            idx = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
            if idx:
                i = self.rng.choice(idx)
                words[i] = self.typo(words[i])
                address = " ".join(words)
                tags.append("address_typo")
        if rnd() < cfg.missing_address_rate:
            address = ""
            tags.append("no_address")
        if rnd() < cfg.missing_postcode_rate:
            postcode = ""
            tags.append("no_postcode")
        elif rnd() < cfg.postcode_typo_rate:
            chars = list(postcode)
            idx = [i for i, c in enumerate(chars) if c.isalnum()]
            i = self.rng.choice(idx)
            pool = "0123456789" if chars[i].isdigit() else "ABDEFGHJLNPQRSTUWXYZ"
            chars[i] = self.rng.choice([c for c in pool if c != chars[i]])
            postcode = "".join(chars)
            tags.append("postcode_typo")
        return address, postcode

    def display_address(self, address: str) -> str:
        if self.rng.random() < 0.3:
            for full, short in STREET_TYPES:
                address = address.replace(f" {full},", f" {short},")
        if self.rng.random() < 0.3:
            address = address.title()
        return address

    # -- records ----------------------------------------------------------------------------
    def emit(
        self,
        ident: Identity,
        *,
        when: dt.datetime,
        site: str,
        card: str,
        email: str,
        address: tuple[str, str],
        fraud: bool,
        ip_country: str | None = None,
        access: int | None = None,
        chargeback: bool = False,
        verify: str = "pass",
        show_dob: bool | None = None,
        show_phone: bool | None = None,
    ) -> dict[str, Any]:
        self.n_rec += 1
        ref = f"R{self.n_rec:08d}"
        if show_dob is None:
            show_dob = self.rng.random() >= self.cfg.missing_dob_rate
        if show_phone is None:
            show_phone = self.rng.random() >= self.cfg.missing_phone_rate
        exp = when.date() + dt.timedelta(days=self.rng.randint(60, 1400))
        logins = access if access is not None else self.rng.randint(1, 60)
        tags: list[str] = []
        name = self.display_name(ident, tags)
        addr_text, pc_text = address
        if self.cfg.messy:
            addr_text, pc_text = self.messy_location(addr_text, pc_text, tags)
        dob_text = ""
        if show_dob:
            dob_text = (
                self.messy_dob(ident.dob, tags)
                if self.cfg.messy
                else ident.dob.strftime("%d/%m/%Y")
            )
        if tags:
            self.noise[ref] = tags
        rec = {
            "record_ref": ref,
            "cardholder": name,
            "address": self.display_address(addr_text),
            "postcode": pc_text if self.rng.random() > 0.1 else pc_text.replace(" ", ""),
            "country": ident.country,
            "dob": dob_text,
            "email": email,
            "phone": ident.phone if show_phone else "",
            "card_number": _spaced(card) if self.rng.random() < 0.3 else card,
            "card_expiry": exp.strftime("%m/%y"),
            "ip": self.ip(),
            "ip_country": ip_country or ident.country,
            "user_agent": self.rng.choice(USER_AGENTS),
            "timestamp": when.isoformat(timespec="seconds"),
            "amount": f"{self.rng.choice((19.95, 29.95, 39.95, 79.95)):.2f}",
            "site": site,
            "logins": logins,
            "last_login": (when + dt.timedelta(days=self.rng.randint(0, 30))).isoformat(
                timespec="seconds"
            )
            if logins
            else "",
            "avs_result": verify,
            "chargeback": "Y" if chargeback else "N",
        }
        self.records.append(rec)
        self.truth[ref] = ident.key
        if fraud:
            self.fraud.add(ref)
        return rec

    def genuine_records(self, ident: Identity, n: int, sites: Sequence[str]) -> None:
        start = self.ts()
        moved_at = (
            self.rng.randint(1, n - 1) if n > 1 and self.rng.random() < self.cfg.move_rate else None
        )
        if moved_at is not None:
            if ident.country == "GB":
                ident.addresses.append(self.uk_address())
            else:
                fmt = next(f for c, f, _ in OTHER_COUNTRIES if c == ident.country)
                ident.addresses.append(self.foreign_address(fmt))
        if n > 1 and self.rng.random() < self.cfg.second_card_rate:
            bins = (
                GB_BINS
                if ident.country == "GB"
                else next(b for c, _, b in OTHER_COUNTRIES if c == ident.country)
            )
            ident.cards.append(self.card(bins))
        if n > 1 and self.rng.random() < self.cfg.second_email_rate:
            ident.emails.append(self.email(ident.first, ident.last))
        site = self.rng.choice(sites)
        for i in range(n):
            when = start + dt.timedelta(
                days=30 * i + self.rng.randint(0, 5), seconds=self.rng.randint(0, 86_000)
            )
            address = (
                ident.addresses[1] if moved_at is not None and i >= moved_at else ident.addresses[0]
            )
            card = ident.cards[-1] if len(ident.cards) > 1 and i >= n // 2 else ident.cards[0]
            email = ident.emails[-1] if len(ident.emails) > 1 and i >= n // 2 else ident.emails[0]
            abroad = self.rng.random() < 0.02
            self.emit(
                ident,
                when=when,
                site=site if self.rng.random() < 0.8 else self.rng.choice(sites),
                card=card,
                email=email,
                address=address,
                fraud=False,
                ip_country=self.rng.choice(FRAUD_IP_COUNTRIES) if abroad else None,
            )


def _spaced(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def _records_count(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.45:
        return 1
    if r < 0.70:
        return 2
    if r < 0.85:
        return 3
    return rng.randint(4, 8)


def generate(cfg: SynthConfig | None = None) -> SynthData:
    """Generate one operation's records and reference data (deterministic per seed)."""
    cfg = cfg or SynthConfig()
    g = _Gen(cfg)
    rng = g.rng
    n_victims = max(1, int(cfg.persons * cfg.fraud_victim_rate))
    n_genuine = max(1, cfg.persons - n_victims)
    genuine: list[Identity] = []
    for i in range(n_genuine):
        ident = g.new_identity(f"P{i:07d}")
        genuine.append(ident)
        g.genuine_records(ident, _records_count(rng), SITES)
        if rng.random() < cfg.household_rate:
            # a household member using the same card at the same address: a different person
            other = g.new_identity(f"H{i:07d}", kind="household")
            while cfg.messy and other.first == ident.first:  # two people, two given names
                other.first = rng.choice(FIRST_NAMES)
            other.last = ident.last
            other.addresses = [ident.addresses[0]]
            other.cards = [ident.cards[0]]
            other.country = ident.country
            g.genuine_records(other, rng.randint(1, 2), SITES)

    # --- stolen-card fraud ----------------------------------------------------------------
    breaches: list[dict[str, Any]] = []
    compromised: list[dict[str, Any]] = []
    n_breaches = max(1, n_victims // 40)
    windows = []
    for b in range(n_breaches):
        start = g.ts()
        end = start + dt.timedelta(hours=rng.randint(2, 12))
        name = f"breach-{b + 1:03d}"
        windows.append((name, start, end))
        breaches.append(
            {
                "name": name,
                "start": start.isoformat(timespec="seconds"),
                "end": end.isoformat(timespec="seconds"),
                "site": HIGH_FRAUD_SITE,
                "bins": "",
            }
        )
    for j in range(n_victims):
        victim = g.new_identity(f"V{j:07d}", kind="victim")
        card = victim.cards[0]
        in_breach = rng.random() < 0.6
        name, bstart, bend = rng.choice(windows)
        n = rng.randint(1, 3)
        victim_records: list[dict[str, Any]] = []
        for _ in range(n):
            when = (bstart + (bend - bstart) * rng.random()) if in_breach else g.ts()
            fraud_email = g.email(rng.choice(FIRST_NAMES), g.surname())
            rec = g.emit(
                victim,
                when=when,
                site=HIGH_FRAUD_SITE if rng.random() < 0.7 else rng.choice(SITES),
                card=card,
                email=fraud_email,
                address=victim.addresses[0],
                fraud=True,
                ip_country=rng.choice(FRAUD_IP_COUNTRIES) if rng.random() < 0.7 else None,
                access=0 if rng.random() < 0.85 else rng.randint(1, 2),
                chargeback=rng.random() < 0.4,
                verify="fail" if rng.random() < 0.3 else "pass",
                show_dob=False,
                show_phone=False,
            )
            victim_records.append(rec)
        listed = rng.random() < 0.7
        if listed or in_breach:
            compromised.append(
                {
                    "card_number": card,
                    "status": "stolen",
                    "breach": name if in_breach else "",
                    "reported_on": (bend.date() if in_breach else cfg.end).isoformat(),
                }
            )
        if not listed and not in_breach:
            # make sure every fraud record carries at least one indicator in the data itself
            for rec in victim_records:
                rec["logins"] = 0
                rec["last_login"] = ""
    # one stolen card used under many invented names and addresses
    for k in range(max(1, int(cfg.persons * cfg.multi_name_cards))):
        card = g.card(GB_BINS)
        for m in range(rng.randint(3, 6)):
            inv = g.new_identity(f"F{k:05d}{m:02d}", kind="invented")
            inv.cards = [card]
            g.emit(
                inv,
                when=g.ts(),
                site=HIGH_FRAUD_SITE,
                card=card,
                email=inv.emails[0],
                address=inv.addresses[0],
                fraud=True,
                ip_country=rng.choice(FRAUD_IP_COUNTRIES),
                access=0,
                show_dob=False,
            )
    # --- reference data ---------------------------------------------------------------------
    data = SynthData(
        records=g.records,
        truth=g.truth,
        fraud_refs=g.fraud,
        identities=g.ids,
        compromised=compromised,
        breaches=breaches,
        config=cfg,
        noise=g.noise,
    )
    _reference(g, data, genuine)
    return data


def link_table(data: SynthData, vault: CardVault, first_id: int = 1) -> pa.Table:
    """The generated records as the linkage table (``linkage.LINK_COLUMNS``, a pyarrow Table),
    normalised as an import would, ids counted from ``first_id``, cards tokenised with
    ``vault``: for tests and benchmarks that link
    generated records without a store."""
    import pyarrow as pa

    from vigil.persons import linkage
    from vigil.persons import normalise as nz

    cols: dict[str, list[Any]] = {c: [] for c in linkage.LINK_COLUMNS}
    for i, r in enumerate(data.records, start=first_id):
        name = nz.parse_name(r["cardholder"])
        pc = nz.postcode(r["postcode"])
        parts = nz.uk_postcode_parts(pc)
        dob = nz.parse_date(r["dob"], "%d/%m/%Y")
        cols["unique_id"].append(i)
        cols["first_name"].append(name.first)
        cols["surname"].append(name.last)
        cols["dob"].append(dob.isoformat() if dob else None)
        cols["postcode"].append(pc)
        cols["district"].append(parts[1] if parts else None)
        cols["address"].append(nz.address(r["address"]))
        cols["email"].append(nz.email(r["email"]))
        cols["phone"].append(nz.phone(r["phone"]))
        cols["card_token"].append(vault.token(digits_only(r["card_number"])))
    schema = pa.schema(
        [("unique_id", pa.int64())] + [(c, pa.string()) for c in linkage.LINK_COLUMNS[1:]]
    )
    return pa.Table.from_pydict(cols, schema=schema)


def _ref_address(g: _Gen, ident: Identity) -> tuple[str, str]:
    return ident.addresses[-1]


def _reference(g: _Gen, data: SynthData, genuine: list[Identity]) -> None:
    rng, cfg = g.rng, g.cfg
    n = 0

    def ref() -> str:
        nonlocal n
        n += 1
        return f"X{n:07d}"

    def full_name(ident: Identity) -> str:
        return f"{ident.first.title()} {ident.last.title()}"

    for ident in genuine:
        r = rng.random()
        if r < cfg.register_rate:
            addr = _ref_address(g, ident)
            data.register.append(
                {
                    "ref": ref(),
                    "name": full_name(ident),
                    "dob": ident.dob.isoformat(),
                    "address": addr[0],
                    "postcode": addr[1],
                    "country": ident.country,
                    "registered_on": "2019-05-01",
                }
            )
        if rng.random() < cfg.conviction_rate:
            offence, category = rng.choice(OFFENCES)
            data.convictions.append(
                {
                    "ref": ref(),
                    "name": full_name(ident),
                    "dob": ident.dob.isoformat(),
                    "postcode": _ref_address(g, ident)[1],
                    "country": ident.country,
                    "offence": offence,
                    "category": category,
                    "convicted_on": "2018-03-14",
                }
            )
        if rng.random() < cfg.role_rate:
            addr = _ref_address(g, ident)
            data.roles.append(
                {
                    "ref": ref(),
                    "name": full_name(ident),
                    "dob": ident.dob.isoformat(),
                    "address": addr[0],
                    "postcode": addr[1],
                    "country": ident.country,
                    "role": rng.choice(ROLES_WITH_CHILDREN),
                    "source": "synthetic",
                }
            )
    # fraud victims with roles and register entries: must still never be prioritised
    victims = [i for i in g.ids.values() if i.kind == "victim"]
    for ident in victims[: max(1, len(victims) // 5)]:
        addr = ident.addresses[0]
        data.roles.append(
            {
                "ref": ref(),
                "name": full_name(ident),
                "dob": ident.dob.isoformat(),
                "address": addr[0],
                "postcode": addr[1],
                "country": ident.country,
                "role": "teacher",
                "source": "synthetic",
            }
        )
    for ident in victims[: max(1, len(victims) // 20)]:
        addr = ident.addresses[0]
        data.register.append(
            {
                "ref": ref(),
                "name": full_name(ident),
                "dob": ident.dob.isoformat(),
                "address": addr[0],
                "postcode": addr[1],
                "country": ident.country,
                "registered_on": "2016-01-20",
            }
        )
    # people on the lists who never appear in the records (distractors)
    for _ in range(max(5, len(genuine) // 50)):
        d = g.new_identity(f"D{ref()}", kind="distractor")
        addr = d.addresses[0]
        data.register.append(
            {
                "ref": ref(),
                "name": full_name(d),
                "dob": d.dob.isoformat(),
                "address": addr[0],
                "postcode": addr[1],
                "country": d.country,
                "registered_on": "2015-07-07",
            }
        )


def generate_followup(
    data: SynthData, *, new_persons: int = 100, seed: int = 1, returning: int | None = None
) -> SynthData:
    """A later batch: ``returning`` convicted/registered subscribers come back with the same
    cards (the Ore re-offending pattern) among ``new_persons`` newcomers.

    Record references continue after the first batch's; ground truth keys are shared.
    """
    cfg = SynthConfig(
        persons=new_persons,
        seed=seed,
        start=data.config.end,
        end=data.config.end + dt.timedelta(days=200),
        messy=data.config.messy,
        surname_skew=data.config.surname_skew,
    )
    g = _Gen(cfg)
    g.n_rec = 10_000_000 + len(data.records)
    g.used_cards = {c for i in data.identities.values() for c in i.cards}
    names = {r["name"].lower() for r in data.register + data.convictions}
    known = [
        i
        for i in data.identities.values()
        if i.kind == "genuine" and f"{i.first} {i.last}" in names
    ]
    k = len(known) if returning is None else min(returning, len(known))
    back = known[:k]
    for ident in back:
        g.genuine_records(ident, g.rng.randint(1, 2), SITES)
    for i in range(new_persons):
        ident = g.new_identity(f"N{seed:02d}{i:06d}")
        g.genuine_records(ident, _records_count(g.rng), SITES)
    return SynthData(
        records=g.records,
        truth=g.truth,
        fraud_refs=g.fraud,
        identities={**data.identities, **g.ids},
        config=cfg,
        noise=g.noise,
    )
