"""A damaged ext2 image on which The Sleuth Kit loops for ever inside C code (found by the
fuzzers, tests/fuzz): the image is refused with a warning after the probe's time limit, and the
walk does not hang."""

from __future__ import annotations

import base64
import gzip
import time
from pathlib import Path

from vigil.evidence.walk import Walker
from vigil.settings import IngestLimits

# disk_raw case 70: a generated 256 KiB ext2 image (five text files) with its block bitmap
# and everything after it shifted; opening its root directory never returns
LOOPING_EXT2 = gzip.decompress(
    base64.b64decode(
        "H4sIAAAAAAACA+3cS2sTURQA4Mkkgtpqq9b3a9YKpa9FF24quBWx/gI1xWJrsQ8oiBAXrt3atYIiinsXIiL4B1y4EX+BiKI7"
        "od7pJJK0xbZaTTP5PjjJmdsJzLnMuZlp00QR0K6S9KEQRZ3h6WOIrmyzcYekul/qy2g5ihYXRz8Xsv2WtjO113VUN4bDUxyi"
        "GOLN/Ivn936MnH8cP3v/8tKDR82o9eapSmXhybm7T7/eej2wMPw9Pd7Ohro2e26TxrnMsV1aqSWlvVkKsW2p/7uWtoH2sBj8"
        "5seVRfJkzXMB6hScFJDTN4H0nrcWbeTTSPWmZ0X9paXfV/zre9pk+UCbzT/QPJU74aGvVFq5/hUa1r8/ccT6B1vaq/T6p2+1"
        "6584OlS33+4o+3tQd4g9IfaG2BeiJ8T+EAdCHAyRvuZwC13/1K7/zt7uuV6LWv3169/RnF7/PQzr/7XCavU3rv/Hclz/h3XU"
        "fzzH9V+M167/RI7rf7uO+k/muP4zxbXrT9z/AgAAQMtK7/E7o0Lc+yuP497e7HP7PdHOeGJqZvb02NTcjavZ5+PfFbfHF8av"
        "zM5Nl2fMHrS2jmX9/62Y9T/QJkqmAPQ/oP8B/Q/of0D/A/of0P+A/gf0P6D/AYCtrDNa/f//0u+77Yl2FMbGJ8p9vbPzs1H2"
        "HXC1sf7qWFfd2EB1rLtubLA6ln5n3P1iNjZUHQOaa7I8ebk8nfQlzUjWd4hJU4/xvybOR7bwKtGfSPKXOL1ZX/8PJBLJpiR6"
        "qgX7fzCRSFo30ch/1/9DiUQi2VBi9QAAAAAA2IiKKQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAFrKT9ZircYaAAQA"
    )
)


def test_a_file_system_that_makes_tsk_loop_is_refused_in_bounded_time(tmp_path: Path) -> None:
    path = tmp_path / "stick.dd"
    path.write_bytes(LOOPING_EXT2)
    started = time.monotonic()
    entries = list(Walker(path, IngestLimits(disk_probe_s=2), tmp_path / "spool"))
    assert time.monotonic() - started < 30
    (refused,) = [e for e in entries if e.raw_path == b"stick.dd!/"]
    assert refused.status == "skipped"
    assert refused.warnings[0][0] == "disk_image_unreadable"
    assert "did not finish" in refused.warnings[0][1]
    assert entries[0].raw_path == b"stick.dd"  # the image itself is still recorded
