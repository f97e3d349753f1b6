"""A minimal stand-in for an agency installation's export (until ``vigil share export`` lands).

It holds generated evidence in memory (photo bytes, face templates as an embedder would output
them, scene descriptors, raw person records) and turns it into signals exactly as the protocol
wants them: digests and PDQ computed from the bytes, templates and descriptors encoded with
:mod:`vigil.share.codecs`, persons encoded with :mod:`vigil.share.persons` under the operation
secret. Only the signals ever leave this object.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from vigil.share.codecs import encode_vector
from vigil.share.persons import OperationSecret, PersonEncoder, PersonFields
from vigil.signals.pdq import Hashed, hash_pixels

FACE_CARD = {
    "model": "dlib_resnet",
    "model_version": "1",
    "weights_sha256": "ab" * 32,
    "dim": 128,
    "metric": "l2",
    "threshold": 0.5,
}
SCENE_CARD = {
    "descriptor": "vlad",
    "version": "1",
    "codebook_sha256": "cd" * 32,
    "dim": 256,
    "dtype": "f16",
}


@dataclass
class Installation:
    """One agency's local evidence (never sent) and its export."""

    name: str
    secret: OperationSecret
    photos: dict[str, bytes] = field(default_factory=dict)
    faces: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    scenes: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    persons: dict[str, dict[str, Any]] = field(default_factory=dict)

    def export(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for ref, data in self.photos.items():
            for kind in ("md5", "sha1", "sha256"):
                out.append(
                    {
                        "kind": kind,
                        "value": hashlib.new(kind, data).hexdigest(),
                        "local_ref": ref,
                        "meta": {},
                    }
                )
            pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            h = hash_pixels(pixels)
            assert isinstance(h, Hashed)
            out.append(
                {
                    "kind": "pdq",
                    "value": h.value,
                    "local_ref": ref,
                    "meta": {"quality": int(h.quality)},
                }
            )
        for ref, vec in self.faces.items():
            out.append(
                {
                    "kind": "face",
                    "value": encode_vector(vec),
                    "local_ref": ref,
                    "meta": dict(FACE_CARD),
                }
            )
        for ref, vec in self.scenes.items():
            out.append(
                {
                    "kind": "scene",
                    "value": encode_vector(vec, "f16"),
                    "local_ref": ref,
                    "meta": dict(SCENE_CARD),
                }
            )
        encoder = PersonEncoder(self.secret)
        for ref, raw in self.persons.items():
            enc = encoder.encode(PersonFields.from_raw(**raw))
            out.append({"kind": "person", "value": enc.b64(), "local_ref": ref, "meta": enc.meta()})
            for kind, tokens in (("card_token", enc.cards), ("email_token", enc.emails)):
                out += [
                    {"kind": kind, "value": t, "local_ref": ref, "meta": {"key_id": enc.key_id}}
                    for t in tokens
                ]
        return out
