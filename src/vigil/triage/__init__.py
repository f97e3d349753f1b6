"""Triage: known / near-known / fresh per item, duplicate groups, grading votes."""
