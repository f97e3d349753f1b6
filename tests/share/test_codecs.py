"""Array codecs: what one side encodes the other decodes, and they fit the policy."""

from __future__ import annotations

import numpy as np

from vigil.share.codecs import decode_prnu, decode_vector, encode_prnu, encode_vector
from vigil.share.protocol import make_signal


def test_vector_round_trip() -> None:
    v = np.random.default_rng(1).normal(size=128).astype(np.float32)
    assert np.array_equal(decode_vector(encode_vector(v)), v)
    assert np.allclose(decode_vector(encode_vector(v, "f16"), "f16"), v, atol=1e-2)


def test_prnu_is_a_centred_sign_crop_that_keeps_correlation() -> None:
    rng = np.random.default_rng(2)
    k = rng.normal(size=(300, 400)).astype(np.float32)
    value, meta = encode_prnu(k, side=128)
    assert meta == {
        "codec": "sign-bits",
        "height": 128,
        "width": 128,
        "source_height": 300,
        "source_width": 400,
    }
    make_signal("prnu", value, "camera:1", meta)  # fits the policy
    a = decode_prnu(value, meta)
    crop = k[86:214, 136:264]
    assert np.array_equal(a > 0, crop > 0)
    b = decode_prnu(*encode_prnu(k + 0.5 * rng.normal(size=k.shape), side=128))
    c = decode_prnu(*encode_prnu(rng.normal(size=k.shape), side=128))
    same, other = float((a * b).mean()), float((a * c).mean())
    assert same > 0.5 > 0.1 > abs(other)
