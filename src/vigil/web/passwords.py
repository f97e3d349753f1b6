"""Password hashing with Argon2id (argon2-cffi defaults: RFC 9106 low-memory profile), and the
gate that bounds how many hashes run at once.

Each Argon2 check allocates 64 MiB for its duration. The web server runs request handlers on a
thread pool of ~40 threads, so an unbounded login route lets anyone with a network path to the
server take ~2.6 GB by sending wrong passwords in parallel (issue 14, defect 7). Every check the
web app makes therefore passes through a :class:`CheckGate`: at most ``limit`` checks run at
once per server process; a request that cannot get a slot within ``wait`` seconds is refused
with :class:`~vigil.errors.Busy` (the web edge answers 503 with ``Retry-After``) instead of
queueing memory.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vigil.errors import Busy, InvalidInput

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("vigil-dummy-password-for-timing")

MIN_LENGTH = 12
ARGON2_MEMORY_BYTES = _HASHER.memory_cost * 1024
"""What one check allocates (argon2-cffi's ``memory_cost`` is in KiB)."""


def check_strength(password: str) -> None:
    """Refuse passwords that are too short to protect this data."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_LENGTH} characters")
    if password.strip() != password:
        raise InvalidInput("a password may not start or end with spaces")


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (after :func:`check_strength`)."""
    check_strength(password)
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; takes as long when there is no account."""
    if not stored:
        with contextlib.suppress(VerificationError):
            _HASHER.verify(_DUMMY, password + "x")
        return False
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class CheckGate:
    """A bounded number of concurrent password checks in this process.

    ``limit`` slots. Up to ``max_waiting`` requests queue for a slot, each for at most ``wait``
    seconds (a burst of reviewers arriving at once gets through); a request beyond the queue, or
    one that waited too long, gets :class:`Busy` at once. A queued request holds a server thread
    but no Argon2 memory, and the queue is short so that waiting logins cannot take every
    thread from the review pages. ``active`` and ``peak`` are kept for monitoring and tests.
    """

    def __init__(self, limit: int = 2, wait: float = 5.0, max_waiting: int = 8) -> None:
        if limit < 1:
            raise InvalidInput(f"the password-check limit must be at least 1, got {limit}")
        self.limit = limit
        self.wait = max(0.0, wait)
        self.max_waiting = max(0, max_waiting)
        self._slots = threading.BoundedSemaphore(limit)
        self._count = threading.Lock()
        self.active = 0
        self.waiting = 0
        self.peak = 0
        self.refused = 0

    def _refuse(self) -> Busy:
        with self._count:
            self.refused += 1
        return Busy("the server is busy checking other logins: try again in a moment", 2)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one check slot for the ``with`` block, or raise :class:`Busy`."""
        if not self._slots.acquire(blocking=False):
            with self._count:
                queue_full = self.waiting >= self.max_waiting
                if not queue_full:
                    self.waiting += 1
            if queue_full:
                raise self._refuse()
            try:
                got = self._slots.acquire(timeout=self.wait)
            finally:
                with self._count:
                    self.waiting -= 1
            if not got:
                raise self._refuse()
        with self._count:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            yield
        finally:
            with self._count:
                self.active -= 1
            self._slots.release()

    def verify(self, stored: str | None, password: str) -> bool:
        """:func:`verify_password` inside a slot."""
        with self.slot():
            return verify_password(stored, password)

    def hash(self, password: str) -> str:
        """:func:`hash_password` inside a slot (strength is checked before taking one)."""
        check_strength(password)
        with self.slot():
            return hash_password(password)
