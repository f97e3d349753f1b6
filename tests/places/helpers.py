"""Generated test scenes: textured synthetic "rooms" (random patterned panels) and degraded
query views (perspective warp, crop, occluding blobs, lighting change, JPEG). No people."""

from __future__ import annotations

import io

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

U8 = npt.NDArray[np.uint8]


def scene(seed: int, w: int = 480, h: int = 360) -> U8:
    """A busy synthetic scene: panels of stripes, checks and dots over a noisy background."""
    rng = np.random.default_rng(seed)
    img = np.clip(rng.normal(150, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    img = np.asarray(cv2.GaussianBlur(img, (0, 0), 2), np.uint8)
    for _ in range(int(70 * w * h / (480 * 360))):
        x, y = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        pw, ph = int(rng.integers(15, 90)), int(rng.integers(15, 90))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        kind = int(rng.integers(0, 4))
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + pw, y + ph), colour, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), int(rng.integers(5, 30)), colour, -1, cv2.LINE_AA)
        elif kind == 2:
            for k in range(0, pw, 6):
                cv2.line(img, (x + k, y), (x + k, y + ph), colour, 2)
        else:
            pts = rng.integers(0, 60, (5, 2)) + np.array([x, y])
            cv2.fillPoly(img, [pts.astype(np.int32)], colour, cv2.LINE_AA)
    return img


def occlude(img: U8, fraction: float, seed: int) -> U8:
    """Cover about ``fraction`` of the image with flat, noisy blobs (foreground stand-ins)."""
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    out = img.copy()
    mask = np.zeros((h, w), np.uint8)
    while mask.mean() / 255 < fraction:
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        cv2.ellipse(mask, (cx, cy), (int(w * 0.12), int(h * 0.3)), 0, 0, 360, 255, -1)
    blob = np.clip(rng.normal(90, 30, (h, w, 3)), 0, 255).astype(np.uint8)
    out[mask > 0] = blob[mask > 0]
    return out


def variant(img: U8, seed: int, *, crop: float = 0.55, occluded: float = 0.35,
            quality: int = 70) -> U8:  # fmt: skip
    """A new view: perspective warp, crop to ``crop`` of the area, occlusion, light, JPEG."""
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    d = 0.06
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + rng.uniform(-d, d, (4, 2)).astype(np.float32) * np.float32([w, h])
    warped = cv2.warpPerspective(img, cv2.getPerspectiveTransform(src, dst), (w, h),
                                 borderMode=cv2.BORDER_REFLECT)  # fmt: skip
    side = np.sqrt(crop)
    cw, ch = int(w * side), int(h * side)
    x, y = int(rng.integers(0, w - cw)), int(rng.integers(0, h - ch))
    view = np.ascontiguousarray(warped[y : y + ch, x : x + cw])
    view = occlude(view, occluded, seed + 1)
    view = np.clip(view.astype(np.float64) * 1.2 + 10, 0, 255).astype(np.uint8)
    return jpeg_roundtrip(view, quality)


def jpeg_bytes(img: U8, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def jpeg_roundtrip(img: U8, quality: int) -> U8:
    return np.asarray(Image.open(io.BytesIO(jpeg_bytes(img, quality))).convert("RGB"), np.uint8)


CAM_H, CAM_W = 144, 176


def camera_shot(k: npt.NDArray[np.float64], rng: np.random.Generator) -> U8:
    """A synthetic camera photo: a smooth generated scene times (1 + PRNU pattern k), 8-bit."""
    base = cv2.GaussianBlur(rng.normal(0, 1, (CAM_H, CAM_W, 3)), (0, 0), 10)
    base = (base - base.min()) / (np.ptp(base) + 1e-9)
    img = (40 + 150 * base) * (1 + k) + rng.normal(0, 1.0, (CAM_H, CAM_W, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)
