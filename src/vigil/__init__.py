"""Vigil: forensic triage and identification platform for child-exploitation investigations."""

__version__ = "0.1.0"
