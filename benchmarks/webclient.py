"""A lean HTTP/1.1 client for the web benchmark: one kept-alive connection per reviewer.

The load generator runs on the machine it measures, so every millisecond of client CPU is taken
from the server. httpx's ``AsyncClient`` spends ~1-2 ms of Python per request (request and
response models, cookie jar, header normalisation, h11 state machine, anyio); this client writes
the request line and headers itself and reads the response with ``asyncio`` streams, which is
all a benchmark of our own server needs: ``Content-Length`` or chunked bodies, ``Set-Cookie``
kept by name, no redirects followed, no TLS. A request on a kept-alive connection that the
server closed before answering (its idle timeout) is sent again once on a new connection, as a
browser does.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlencode


class HttpError(Exception):
    """The connection failed or the response could not be read."""


class Response:
    """Status, lower-cased headers (last value wins) and the body."""

    __slots__ = ("body", "headers", "status_code")

    def __init__(self, status_code: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Client:
    """One reviewer's browser: a cookie jar and one kept-alive connection to ``host:port``."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.cookies: dict[str, str] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def get(self, path: str) -> Response:
        return await self.request("GET", path)

    async def post(self, path: str, data: dict[str, str]) -> Response:
        body = urlencode(data).encode()
        return await self.request("POST", path, body, "application/x-www-form-urlencoded")

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = ""
    ) -> Response:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if self.cookies:
            head += "Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()) + "\r\n"
        if body or method == "POST":
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        raw = head.encode("latin-1") + b"\r\n" + body
        reused = self._writer is not None
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    return await self._exchange(raw)
                except _StaleConnection:
                    if not reused:
                        raise
                    return await self._exchange(raw)
        except _StaleConnection:
            raise HttpError("the server closed the connection without an answer") from None
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            await self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(self, raw: bytes) -> Response:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._reader, self._writer
        assert reader is not None
        try:
            writer.write(raw)
            await writer.drain()
            status_line = await reader.readline()
        except (ConnectionResetError, BrokenPipeError):
            status_line = b""
        if not status_line:  # closed by the server while idle: nothing of this answer was read
            await self.close()
            raise _StaleConnection
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                self._keep_cookie(value)
            headers[name] = value
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readline()).split(b";", 1)[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = b""
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body)

    def _keep_cookie(self, value: str) -> None:
        pair, _, attributes = value.partition(";")
        name, _, content = pair.strip().partition("=")
        attrs = attributes.lower().replace(" ", "")
        if "max-age=0" in attrs or content in ('""', ""):
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = content


class _StaleConnection(Exception):
    """The kept-alive connection was closed before any byte of the answer arrived."""
