"""The hub: a separate app where member agencies find overlaps without sharing media.

Members push signed bundles of signals (:mod:`vigil.share.protocol`); the hub keeps them in its
own database (:mod:`vigil.store.hub`), matches each push against the other agencies' signals of
the same operation, and notifies exactly the two agencies of every overlap. Operations,
targets, the action-day checklist and the outcome funnel are coordinated here too.
"""
