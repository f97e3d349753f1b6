"""Offender identification and triage: payment records → persons → prioritised, explained
referrals, with evidence-quality flags that protect the innocent (see ``docs/persons.md``).

Modules: :mod:`~vigil.persons.cards` (card validation, encryption, tokens, masking),
:mod:`~vigil.persons.mapping` and :mod:`~vigil.persons.records` (batch import),
:mod:`~vigil.persons.normalise`, :mod:`~vigil.persons.linkage` (Splink + constrained
clustering), :mod:`~vigil.persons.reference` (enrichment), :mod:`~vigil.persons.flags`,
:mod:`~vigil.persons.policy`, :mod:`~vigil.persons.routing`, :mod:`~vigil.persons.referrals`,
:mod:`~vigil.persons.watch` and :mod:`~vigil.persons.synth` (synthetic data with ground truth).
"""


def register_defaults() -> None:
    """Register the ``persons`` section of ``vigil case summary`` (called by plug-in loading)."""
    from vigil.persons.summary import SECTION
    from vigil.reports.summary import SECTIONS

    SECTIONS.register(SECTION)
