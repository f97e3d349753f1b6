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
from vigil.places.defaults import DEFAULT_MIN_COVERAGE
from vigil.places.verify import Verification

U8 = npt.NDArray[np.uint8]

_LINE = (40, 220, 60)
_HULL = (255, 200, 0)
_PLANE2 = (255, 60, 200)
_GRID = (200, 200, 200)
_TEXT_BG = (0, 0, 0)
_HEADER = 22
_FOOTER = 46


def _fit(img: U8, height: int) -> tuple[U8, float]:
    h, w = img.shape[:2]
    s = height / h
    out = cv2.resize(img, (max(1, round(w * s)), height), interpolation=cv2.INTER_AREA)
    return np.asarray(out, np.uint8), s


def first_caption(
    verification: Verification, *, label: str = "", min_coverage: float = DEFAULT_MIN_COVERAGE
) -> str:
    """The drawing's first caption line: inliers, coverage, and whether only two surfaces moving
    with one camera reach ``min_coverage`` (the search's: as its result says)."""
    return (
        f"{label + ': ' if label else ''}{verification.inliers} inliers of "
        f"{verification.matches} matches ({verification.model}), coverage "
        f"{100 * verification.coverage:.0f}%"
        + (
            f" (two surfaces, one camera motion: {100 * verification.spread:.0f}%)"
            if verification.by_two_surfaces(min_coverage)
            else ""
        )
        + "; candidate lead, confirm by review"
    )


def draw_pair(
    query: U8,
    candidate: U8,
    verification: Verification,
    *,
    height: int = 480,
    max_lines: int = 200,
    label: str = "",
    names: tuple[str, str] | None = None,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> U8:
    """Return an RGB image: ``query`` left, ``candidate`` right, inliers drawn between them.

    ``query`` and ``candidate`` are the original RGB pixels the verification refers to (points
    are in original-image pixels). At most ``max_lines`` correspondences are drawn (evenly
    sampled) so that the picture stays readable; the caption gives the full counts. ``names``
    (file names, item ids) are written above each image. With a layout verdict, the query gets
    its 3 x 3 region grid with the inliers per region, the second surface's inliers are marked
    in magenta, and the caption gives the verdict, the inliers per surface and the coverage.
    """
    if query.ndim != 3 or candidate.ndim != 3:
        raise InvalidInput("draw_pair needs two H x W x 3 RGB images")
    qa, sa = _fit(query, height)
    cb, sb = _fit(candidate, height)
    gap = 8
    top = _HEADER
    canvas = np.full((top + height + _FOOTER, qa.shape[1] + gap + cb.shape[1], 3), 255, np.uint8)
    canvas[top : top + height, : qa.shape[1]] = qa
    off = qa.shape[1] + gap
    canvas[top : top + height, off:] = cb
    white = (255, 255, 255)
    cv2.rectangle(canvas, (0, 0), (canvas.shape[1], top), _TEXT_BG, -1)
    if names is not None:
        for x0, text, width in ((0, names[0], qa.shape[1]), (off, names[1], cb.shape[1])):
            room = max(8, width // 7)
            shown = text if len(text) <= room else "..." + text[-(room - 3) :]
            cv2.putText(canvas, shown, (x0 + 4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, white, 1,
                        cv2.LINE_AA)  # fmt: skip
    shift = np.array([0, top], np.float32)
    qp = np.array(verification.query_points, np.float32).reshape(-1, 2) * sa + shift
    cp = np.array(verification.candidate_points, np.float32).reshape(-1, 2) * sb + shift
    cp_canvas = cp + np.array([off, 0], np.float32)
    layout = verification.layout
    if layout is not None:
        qw, qh = qa.shape[1], height
        for k in (1, 2):
            cv2.line(canvas, (k * qw // 3, top), (k * qw // 3, top + qh), _GRID, 1)
            cv2.line(canvas, (0, top + k * qh // 3), (qw, top + k * qh // 3), _GRID, 1)
        for cell, count in enumerate(layout.region_inliers):
            x = (cell % 3) * qw // 3 + 4
            y = top + (cell // 3) * qh // 3 + 16
            cv2.putText(canvas, str(count), (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _GRID, 1,
                        cv2.LINE_AA)  # fmt: skip
        for x, y in layout.second_plane_points:
            c = (round(x * sa), round(y * sa + top))
            cv2.circle(canvas, c, 4, _PLANE2, 2, cv2.LINE_AA)
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
    caption = first_caption(verification, label=label, min_coverage=min_coverage)
    second = "layout not judged"
    if layout is not None:
        verdict = layout.verdict.replace("_", " ")
        if layout.verdict == "shared_object":
            verdict = "shared object only"
        second = (
            f"verdict: {verdict.upper()} - inliers per surface {layout.planes}, "
            f"{layout.regions}/9 regions; {layout.reason}"
        )
    y0 = top + height
    cv2.rectangle(canvas, (0, y0), (canvas.shape[1], y0 + _FOOTER), _TEXT_BG, -1)
    for i, text in enumerate((caption, second)):
        cv2.putText(canvas, text[:170], (6, y0 + 18 + 20 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    white, 1, cv2.LINE_AA)  # fmt: skip
    return canvas


def encode_png(rgb: U8) -> bytes:
    """PNG bytes of an RGB image."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InvalidInput("could not encode the drawing as PNG")
    return bytes(buf)
