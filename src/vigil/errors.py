"""One exception hierarchy for all of Vigil.

Library code raises these; only the edges (``vigil.cli`` and ``vigil.web``) turn them into exit
codes or HTTP status codes. Each class carries a stable ``code`` string so that a warning stored
as data and an exception raised at run time speak the same language.
"""

from __future__ import annotations


class VigilError(Exception):
    """Base class of every error Vigil raises on purpose."""

    code = "error"


class InvalidInput(VigilError):
    """A value supplied by a user or a file is malformed (bad hash, bad CSV row, bad option)."""

    code = "invalid_input"


class WrongFormat(InvalidInput):
    """The input is not of the format the reader handles ("not mine", as opposed to "damaged")."""

    code = "wrong_format"


class DamagedInput(InvalidInput):
    """The input is of the expected format but damaged (truncated, corrupt, inconsistent)."""

    code = "damaged"


class AmbiguousInput(InvalidInput):
    """The input could mean two things and guessing could give a silently wrong answer (a list
    of 64-hex values: SHA-256 or PDQ?); the message names the choices."""

    code = "ambiguous"


class UnsafeInput(InvalidInput):
    """The input tries something dangerous (zip bomb, path traversal, symlink loop)."""

    code = "unsafe"


class TooLarge(UnsafeInput):
    """Handling the input would exceed a resource budget (e.g. a decompression bomb: a small
    file that decodes to more pixels than a worker may hold); refused instead of tried."""

    code = "too_large"


class NotFound(VigilError):
    """A named case, item, user or record does not exist."""

    code = "not_found"


class Conflict(VigilError):
    """The operation clashes with existing state (duplicate name, duplicate registration)."""

    code = "conflict"


class IntegrityError(VigilError):
    """Stored evidence or the audit chain failed verification."""

    code = "integrity"


class PermissionDenied(VigilError):
    """The acting user may not do this."""

    code = "permission_denied"


class PolicyViolation(VigilError):
    """The operation would break a safety policy (e.g. exporting media in a hash-set export)."""

    code = "policy"


class BackendError(VigilError):
    """A third-party component (database, decoder, model) failed; the message carries context."""

    code = "backend"


class NotReady(VigilError):
    """A prerequisite step has not run yet (no index built, no model trained)."""

    code = "not_ready"


class Busy(VigilError):
    """Vigil is at a deliberate capacity bound (e.g. concurrent password checks) and refuses
    more work for now rather than exhausting memory; the caller may retry after
    ``retry_after`` seconds."""

    code = "busy"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthenticationFailed(IntegrityError):
    """A signed bundle or request could not be authenticated (base of the four reasons below).

    The hub's edge answers every one of them with 401 and the message, so a member can tell a
    clock problem from a key problem without the hub revealing anything else.
    """

    code = "authentication_failed"


class SignatureInvalid(AuthenticationFailed):
    """The Ed25519 signature does not match the signed bytes (tampered or wrong key)."""

    code = "signature_invalid"


class UnknownKey(AuthenticationFailed):
    """The message names a key id that is not registered (or has been revoked)."""

    code = "unknown_key"


class StaleMessage(AuthenticationFailed):
    """The message's timestamp lies outside the accepted window (expired or from the future)."""

    code = "stale_message"


class ReplayDetected(AuthenticationFailed):
    """The message's nonce was already used by that key: a replay."""

    code = "replay"
