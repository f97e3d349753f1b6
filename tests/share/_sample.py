"""Generated, valid signals of every kind (random numbers only; no media involved)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from vigil.share.codecs import encode_prnu, encode_vector

SHA = "ab" * 32


def signals(seed: int = 0) -> list[dict[str, Any]]:
    """One valid signal per kind."""
    rng = np.random.default_rng(seed)
    prnu_value, prnu_meta = encode_prnu(rng.normal(size=(40, 48)), side=32)
    h = hashlib.sha256(str(seed).encode()).hexdigest()
    return [
        {"kind": "md5", "value": h[:32], "local_ref": "item:1", "meta": {}},
        {"kind": "sha1", "value": h[:40], "local_ref": "item:1", "meta": {}},
        {"kind": "sha256", "value": h, "local_ref": "item:1", "meta": {}},
        {"kind": "pdq", "value": h, "local_ref": "item:1", "meta": {"quality": 90}},
        {"kind": "vpdq", "value": h * 3, "local_ref": "item:2", "meta": {"version": "vpdq-1"}},
        {
            "kind": "face",
            "value": encode_vector(rng.normal(size=128)),
            "local_ref": "face:45",
            "meta": {
                "model": "dlib_resnet",
                "model_version": "1",
                "weights_sha256": SHA,
                "dim": 128,
                "metric": "l2",
                "threshold": 0.5,
            },
        },
        {
            "kind": "scene",
            "value": encode_vector(rng.normal(size=64), "f16"),
            "local_ref": "item:3",
            "meta": {
                "descriptor": "vlad",
                "version": "1",
                "codebook_sha256": SHA,
                "dim": 64,
                "dtype": "f16",
            },
        },
        {"kind": "prnu", "value": prnu_value, "local_ref": "camera:7", "meta": prnu_meta},
        {
            "kind": "person",
            "value": encode_vector(rng.integers(0, 256, size=128), "u8"),
            "local_ref": "person:9",
            "meta": {"params_id": "clk-1", "key_id": "op-1", "bits": 1024, "blocks": [h[:16]]},
        },
        {"kind": "card_token", "value": h, "local_ref": "person:9", "meta": {"key_id": "op-1"}},
        {"kind": "email_token", "value": h, "local_ref": "person:9", "meta": {"key_id": "op-1"}},
    ]
