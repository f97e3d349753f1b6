"""Victim identification: find faces, group them within a case, search them across cases.

* :mod:`vigil.faces.model` — the ``Detector`` / ``Embedder`` protocols and model cards.
* :mod:`vigil.faces.dlib_models` — the default models (dlib HOG, 5-point landmarks, ResNet).
* :mod:`vigil.faces.pipeline` — detect (with rotation retries), align, embed, quality, video frames.
* :mod:`vigil.faces.cluster` — within-case clustering that respects investigator feedback.
* :mod:`vigil.faces.index` — faiss vector index (and its brute-force oracle).
* :mod:`vigil.faces.calibrate` — thresholds for a target false-match rate.
* :mod:`vigil.faces.analyzer` — the opt-in ``faces`` ingest analyzer.
* :mod:`vigil.faces.service` — case-level operations used by the CLI.

Every match is a candidate for a person to confirm; nothing is merged automatically.
"""
