"""The compiled PDQ loads once per process (issue 16): one signature serves read-only and writable
pixels, importing it does not import ``scipy.linalg``, and Numba's on-disk cache is used on the
next start, also when the package directory is read-only (the user's cache directory then)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from vigil.signals import _pdqkernel

_PROBE = """
import json, sys
import numpy as np
import _pdqkernel as k
rng = np.random.default_rng(3)
px = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
ro = np.frombuffer(px.tobytes(), np.uint8).reshape(px.shape)
a, qa = k.pdq_float(px)
b, qb = k.pdq_float(ro)
s = k._pdq_float.stats
print(json.dumps({
    "same": bool((a == b).all()) and qa == qb,
    "signatures": len(k._pdq_float.signatures),
    "scipy_linalg": "scipy.linalg" in sys.modules,
    "hits": sum(s.cache_hits.values()),
    "misses": sum(s.cache_misses.values()),
}))
"""


def test_one_signature_for_read_only_and_writable_pixels() -> None:
    import numpy as np

    px = np.zeros((20, 30, 3), np.uint8)
    ro = np.frombuffer(px.tobytes(), np.uint8).reshape(px.shape)
    assert not ro.flags.writeable
    _pdqkernel.pdq_float(px)
    _pdqkernel.pdq_float(ro)
    assert len(_pdqkernel._pdq_float.signatures) == 1


@pytest.mark.slow
def test_kernel_cache_is_used_from_a_read_only_package_dir() -> None:
    """Compiles once into the user cache dir, then the next process loads it: no recompilation."""
    root = Path(tempfile.mkdtemp(prefix="vigil-pdqk-"))
    try:
        pkg = root / "pkg"
        cache = root / "cache"
        pkg.mkdir()
        cache.mkdir()
        shutil.copy(Path(_pdqkernel.__file__), pkg / "_pdqkernel.py")
        env = {
            **os.environ,
            "PYTHONPATH": str(pkg),
            "XDG_CACHE_HOME": str(cache),
            "HOME": str(root),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.pop("NUMBA_CACHE_DIR", None)
        if os.geteuid() == 0:
            # root writes into read-only dirs; a file where __pycache__ would go stops Numba
            # the same way (it cannot create or write its in-tree cache dir)
            (pkg / "__pycache__").write_bytes(b"")
        os.chmod(pkg, 0o500)

        def probe() -> dict[str, object]:
            out = subprocess.run(
                [sys.executable, "-c", _PROBE],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                cwd=root,
            )
            got: dict[str, object] = json.loads(out.stdout)
            return got

        first = probe()
        second = probe()
        assert not (pkg / "__pycache__").is_dir()
        assert list((cache / "numba").rglob("*.nbi")), "no index in the user cache dir"
        for got in (first, second):
            assert got["same"] and got["signatures"] == 1 and got["scipy_linalg"] is False
        assert first["misses"] == 1 and first["hits"] == 0
        assert second["hits"] == 1 and second["misses"] == 0  # loaded, not compiled again
    finally:
        for d, _dirs, _files in os.walk(root):
            os.chmod(d, 0o700)
        shutil.rmtree(root, ignore_errors=True)
