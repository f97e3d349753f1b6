"""One way to open an ONNX model for Vigil's face plug-ins (embedders, age): onnxruntime on the
CPU, one thread per session (the workers are the parallelism), warnings off. The model comes
from a local file only; nothing is downloaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vigil.errors import BackendError, InvalidInput


def cpu_session(path: Path) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``path``; :class:`InvalidInput` naming the file
    when it is not a loadable model, :class:`BackendError` when onnxruntime is missing."""
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise BackendError(f"onnxruntime is not installed: {exc}") from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise InvalidInput(
            f"{path}: not a loadable ONNX model ({type(exc).__name__}: {exc})"
        ) from exc
