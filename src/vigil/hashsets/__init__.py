"""Hash sets: VICS JSON, ICSE CSV, digest lists and PDQ CSV in and out, with provenance and
category schemes; see ``docs/known-vs-fresh.md``."""
