"""Ed25519 keys of member agencies and of the hub administrator.

A key is named by its *key id*: the first 32 hex digits of the SHA-256 of the raw 32-byte public
key, so both sides derive the same id from the key itself and no registry of names can drift from
the keys. Private keys are written as unencrypted PKCS#8 PEM with mode 0600 (the unit's disk
encryption protects them at rest); public keys as SubjectPublicKeyInfo PEM.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vigil.errors import InvalidInput

KEY_ID_HEX = 32


def generate() -> Ed25519PrivateKey:
    """A fresh private key."""
    return Ed25519PrivateKey.generate()


def public_raw(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The key id of a public key (or of a private key's public half)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return hashlib.sha256(public_raw(pub)).hexdigest()[:KEY_ID_HEX]


def private_pem(key: Ed25519PrivateKey) -> bytes:
    """PKCS#8 PEM of a private key."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """SubjectPublicKeyInfo PEM of a public key (or of a private key's public half)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_keypair(key: Ed25519PrivateKey, private_path: Path, public_path: Path) -> str:
    """Write a key pair (private file 0600, created exclusively); return the key id."""
    private_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InvalidInput(f"{private_path} exists; refusing to overwrite a private key") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem(key))
    public_path.write_bytes(public_pem(key))
    return key_id(key)


def load_private(path: Path) -> Ed25519PrivateKey:
    """Read a PEM private key; it must be Ed25519."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidInput(f"{path}: not a readable unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{path}: not an Ed25519 private key")
    return key


def parse_public(data: bytes, *, source: str = "public key") -> Ed25519PublicKey:
    """A public key from PEM, or from the base64 of its 32 raw bytes (one line)."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise InvalidInput(f"{source}: not a PEM public key: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidInput(f"{source}: not an Ed25519 public key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{source}: neither PEM nor base64 of a raw key") from exc
    if len(raw) != 32:
        raise InvalidInput(f"{source}: a raw Ed25519 public key has 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_public(path: Path) -> Ed25519PublicKey:
    """Read a public key file (PEM or base64 raw)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read public key {path}: {exc}") from exc
    return parse_public(data, source=str(path))
