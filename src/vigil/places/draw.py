"""Explain a scene link: the two images side by side, inlier correspondences joined by lines and
the matched background region outlined (the convex hull of the inliers) in both images.

The drawing is the evidence a reviewer looks at before confirming that two images show the same
place; it is made from the stored verification, so it shows exactly what produced the score.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from vigil.errors import InvalidInput
from vigil.places.verify import Verification

U8 = npt.NDArray[np.uint8]

_LINE = (40, 220, 60)
_HULL = (255, 200, 0)
_TEXT_BG = (0, 0, 0)


def _fit(img: U8, height: int) -> tuple[U8, float]:
    h, w = img.shape[:2]
    s = height / h
    out = cv2.resize(img, (max(1, round(w * s)), height), interpolation=cv2.INTER_AREA)
    return np.asarray(out, np.uint8), s


def draw_pair(
    query: U8,
    candidate: U8,
    verification: Verification,
    *,
    height: int = 480,
    max_lines: int = 200,
    label: str = "",
) -> U8:
    """Return an RGB image: ``query`` left, ``candidate`` right, inliers drawn between them.

    ``query`` and ``candidate`` are the original RGB pixels the verification refers to (points
    are in original-image pixels). At most ``max_lines`` correspondences are drawn (evenly
    sampled) so that the picture stays readable; the caption gives the full counts.
    """
    if query.ndim != 3 or candidate.ndim != 3:
        raise InvalidInput("draw_pair needs two H x W x 3 RGB images")
    qa, sa = _fit(query, height)
    cb, sb = _fit(candidate, height)
    gap = 8
    canvas = np.full((height + 28, qa.shape[1] + gap + cb.shape[1], 3), 255, np.uint8)
    canvas[:height, : qa.shape[1]] = qa
    off = qa.shape[1] + gap
    canvas[:height, off:] = cb
    qp = np.array(verification.query_points, np.float32).reshape(-1, 2) * sa
    cp = np.array(verification.candidate_points, np.float32).reshape(-1, 2) * sb
    cp_canvas = cp + np.array([off, 0], np.float32)
    for pts in (qp, cp_canvas):
        if len(pts) >= 3:
            hull = cv2.convexHull(pts.reshape(-1, 1, 2)).astype(np.int32)
            cv2.polylines(canvas, [hull], True, _HULL, 2, cv2.LINE_AA)
    n = len(qp)
    pick = np.linspace(0, n - 1, min(n, max_lines)).astype(int) if n else np.zeros(0, int)
    for i in pick:
        p = (round(float(qp[i, 0])), round(float(qp[i, 1])))
        q = (round(float(cp_canvas[i, 0])), round(float(cp_canvas[i, 1])))
        cv2.line(canvas, p, q, _LINE, 1, cv2.LINE_AA)
        cv2.circle(canvas, p, 3, _LINE, 1, cv2.LINE_AA)
        cv2.circle(canvas, q, 3, _LINE, 1, cv2.LINE_AA)
    caption = (
        f"{label + ': ' if label else ''}{verification.inliers} inliers of "
        f"{verification.matches} matches ({verification.model}); candidate lead, "
        "confirm by review"
    )
    cv2.rectangle(canvas, (0, height), (canvas.shape[1], height + 28), _TEXT_BG, -1)
    cv2.putText(canvas, caption[:160], (6, height + 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
    return canvas


def encode_png(rgb: U8) -> bytes:
    """PNG bytes of an RGB image."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InvalidInput("could not encode the drawing as PNG")
    return bytes(buf)
