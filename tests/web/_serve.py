"""Run the real ``vigil serve`` as a subprocess on an ephemeral 127.0.0.1 port (tests and
benchmarks of the server as deployed: uvicorn, workers, forwarded headers)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[bytes]

    def pids(self) -> list[int]:
        """The server process and its children (uvicorn workers)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        kids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [self.proc.pid, *kids]


def status_kib(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` figure in KiB (VmRSS, VmHWM), 0 when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(found.group(1)) if found else 0


@contextmanager
def vigil_serve(home: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """``vigil serve --port P ARGS`` on ``home`` until the block ends (SIGTERM, then kill)."""
    port = free_port()
    full_env = {**os.environ, "VIGIL_HOME": str(home), **(env or {})}
    src = Path(__file__).resolve().parents[2] / "src"
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(src), full_env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil.cli.main", "serve", "--port", str(port), *args],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # workers start slowly on a busy machine
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"vigil serve exited with {proc.returncode}: {err}")
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("vigil serve did not answer within 180 s")
            time.sleep(0.2)
        yield Served(base, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stderr:
            proc.stderr.close()
