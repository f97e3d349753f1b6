"""Sharing signals across agencies: the wire protocol, keys and (local side) export and push.

Nothing in this package ever reads or sends media: a bundle carries digests, perceptual hashes,
templates, descriptors and keyed tokens, each with an opaque reference only its owner can resolve.
"""
