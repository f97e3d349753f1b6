"""Generate the same-place benchmark: synthetic textured rooms, their query views and distractors.

    python benchmarks/gen_places.py OUT_DIR [--scenes 200] [--distractors 1000] [--seed 1]

Everything is generated; nothing depicts a person. Base scenes are rooms ray-cast from textured
planes (walls with procedural wallpaper, carpet, a bed with bedding, furniture with wood grain, a
window, pictures) so that a new viewpoint shows real parallax between surfaces. Rooms come in
"chains" of four that share wallpaper, carpet and bedding (as hotel rooms of one chain do) and
differ in layout, pictures and furniture: hard negatives. Pictures on the walls are crops of
scikit-image's bundled sample images (coffee, chelsea, rocket, hubble_deep_field, gravel, brick,
grass, coins, horse, motorcycle_left, moon, page, text; BSD-3-Clause / public domain / CC0, see
skimage/data/README.txt; none shows a person) or procedural abstract art when scikit-image is
absent.

Query views of each scene: a new camera pose (move 0.1-0.45 m, yaw up to 14 deg, pitch and roll),
then a crop showing 30-60 % of the frame, foreground blobs shaped like a standing figure (flat
patterned shapes, no people) covering 30-50 % of the crop, a brightness / contrast / colour-cast
change, a rescale (0.5-1.2x) and JPEG re-compression at quality 40-90.

Distractors are other rooms (decor drawn from a pool of 100 designs, their own layout, pictures
and furniture) plus collages of sample images and textures. Index views are 640 x 480 (the
feature extractor works at 640 px anyway); queries are cut from 960 x 720 renders.

Output: ``index/*.jpg`` (one base view per scene, then the distractors), ``queries/*.jpg`` and
``manifest.json`` (ground truth and every query's parameters).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]

WIDTH, HEIGHT = 640, 480
DECOR_POOL = 100
"""Distractor rooms share decor from this many designs (like hotel chains)."""
SAMPLE_NAMES = (
    "coffee", "chelsea", "rocket", "hubble_deep_field", "gravel", "brick", "grass", "coins",
    "horse", "motorcycle_left", "moon", "page", "text",
)  # fmt: skip


def _samples() -> list[U8]:
    try:
        from skimage import data
    except ImportError:
        return []
    out = []
    for name in SAMPLE_NAMES:
        try:
            img = np.asarray(getattr(data, name)())
        except Exception:  # noqa: BLE001, S112 - a sample needing a download is skipped
            continue
        if img.dtype != np.uint8:
            img = (255 * (img.astype(np.float64) / max(1.0, float(img.max())))).astype(np.uint8)
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=2)
        out.append(np.ascontiguousarray(img[:, :, :3]))
    return out


# --- procedural textures ----------------------------------------------------------------------
def _colour(rng: np.random.Generator, lo: int = 30, hi: int = 235) -> tuple[int, int, int]:
    c = rng.integers(lo, hi, 3)
    return (int(c[0]), int(c[1]), int(c[2]))


def _noise(rng: np.random.Generator, h: int, w: int, sigma: float, blur: float) -> F64:
    n = rng.normal(0, 1, (h, w))
    if blur > 0:
        n = cv2.GaussianBlur(n, (0, 0), blur)
        n /= max(1e-6, float(n.std()))
    return n * sigma


@dataclass(frozen=True)
class Style:
    """Texture and room parameters of a generated set (``--style``): the sibling-room figures
    are reported on two styles so that they are not tied to one generator setting."""

    wall_tile: tuple[int, int] = (40, 110)
    """Wallpaper tile side in texture pixels (a repeat every tile)."""
    wall_motifs: tuple[int, int] = (2, 6)
    carpet_pattern: float = 0.6
    """Share of carpets with a checked pattern over the noise."""
    bed_step: tuple[int, int] = (16, 48)
    pictures: tuple[int, int] = (1, 3)
    """Pictures on the back wall (upper bound exclusive)."""
    room_width: tuple[float, float] = (3.2, 4.2)
    room_depth: tuple[float, float] = (3.4, 4.4)


STYLES = {
    "default": Style(),
    # finer wallpaper with more motifs, always a checked carpet, coarser bedding, fewer pictures
    # and wider rooms: more repeated texture, fewer room-specific objects
    "alt": Style(wall_tile=(24, 64), wall_motifs=(4, 9), carpet_pattern=1.0, bed_step=(30, 70),
                 pictures=(0, 2), room_width=(3.0, 4.8), room_depth=(3.0, 4.8)),
}  # fmt: skip
STYLE = STYLES["default"]


def wallpaper(rng: np.random.Generator, h: int, w: int) -> U8:
    ts = int(rng.integers(*STYLE.wall_tile))
    tile = np.zeros((ts, ts, 3), np.uint8)
    tile[:] = _colour(rng, 120, 240)
    for _ in range(int(rng.integers(*STYLE.wall_motifs))):
        kind = int(rng.integers(0, 4))
        col = _colour(rng)
        c = (int(rng.integers(0, ts)), int(rng.integers(0, ts)))
        r = int(rng.integers(3, ts // 3))
        if kind == 0:
            cv2.circle(tile, c, r, col, -1, cv2.LINE_AA)
        elif kind == 1:
            pts = np.array([[c[0], c[1] - r], [c[0] + r, c[1]], [c[0], c[1] + r], [c[0] - r, c[1]]])
            cv2.fillPoly(tile, [pts.astype(np.int32)], col, cv2.LINE_AA)
        elif kind == 2:
            cv2.line(tile, (0, c[1]), (ts, c[1]), col, max(1, r // 3), cv2.LINE_AA)
        else:
            cv2.ellipse(tile, c, (r, max(2, r // 2)), float(rng.integers(0, 180)), 0, 360, col, 2)
    reps = (h // ts + 1, w // ts + 1, 1)
    img = np.tile(tile, reps)[:h, :w].astype(np.float64)
    img += _noise(rng, h, w, 6, 0)[:, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def carpet(rng: np.random.Generator, h: int, w: int) -> U8:
    base = np.array(_colour(rng, 40, 200), np.float64)
    img = np.ones((h, w, 3)) * base
    img += _noise(rng, h, w, 25, 6)[:, :, None]
    img += _noise(rng, h, w, 12, 1.2)[:, :, None]
    if rng.random() < STYLE.carpet_pattern:
        period = int(rng.integers(30, 90))
        yy, xx = np.mgrid[0:h, 0:w]
        pat = ((xx // period + yy // period) % 2).astype(np.float64)
        img += pat[:, :, None] * (np.array(_colour(rng, 0, 60)) - 30)
    return np.clip(img, 0, 255).astype(np.uint8)


def bedding(rng: np.random.Generator, h: int, w: int) -> U8:
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = _colour(rng, 150, 250)
    kind = int(rng.integers(0, 3))
    col = _colour(rng)
    step = int(rng.integers(*STYLE.bed_step))
    if kind == 0:
        for x in range(0, w, step):
            cv2.rectangle(img, (x, 0), (x + step // 3, h), col, -1)
    elif kind == 1:
        for x in range(0, w, step):
            cv2.line(img, (x, 0), (x, h), col, 3)
        for y in range(0, h, step):
            cv2.line(img, (0, y), (w, y), col, 3)
    else:
        for _ in range(int(h * w / (step * step))):
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.circle(img, c, int(rng.integers(3, step // 2)), _colour(rng), -1, cv2.LINE_AA)
    noisy = img.astype(np.float64) + _noise(rng, h, w, 5, 0)[:, :, None]
    return np.clip(noisy, 0, 255).astype(np.uint8)


def wood(rng: np.random.Generator, h: int, w: int) -> U8:
    yy = np.mgrid[0:h, 0:w][0].astype(np.float64)
    warp = _noise(rng, h, w, 8, 12)
    grain = np.sin((yy + warp) * rng.uniform(0.15, 0.4)) * 0.5 + 0.5
    base = np.array(_colour(rng, 60, 170), np.float64)
    img = base * (0.75 + 0.35 * grain[:, :, None]) + _noise(rng, h, w, 6, 0)[:, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def art(rng: np.random.Generator, h: int, w: int, samples: list[U8]) -> U8:
    if samples and rng.random() < 0.75:
        src = samples[int(rng.integers(0, len(samples)))]
        sh, sw = src.shape[:2]
        ch, cw = int(sh * rng.uniform(0.4, 1)), int(sw * rng.uniform(0.4, 1))
        y, x = int(rng.integers(0, sh - ch + 1)), int(rng.integers(0, sw - cw + 1))
        crop = src[y : y + ch, x : x + cw]
        img = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
    else:
        img = np.zeros((h, w, 3), np.uint8)
        img[:] = _colour(rng)
        for _ in range(int(rng.integers(5, 15))):
            p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.rectangle(img, p0, p1, _colour(rng), -1 if rng.random() < 0.5 else 3)
    border = max(3, w // 25)
    cv2.rectangle(img, (0, 0), (w - 1, h - 1), _colour(rng, 0, 120), border)
    return np.ascontiguousarray(img)


def window(rng: np.random.Generator, h: int, w: int) -> U8:
    yy = np.linspace(0, 1, h)[:, None, None]
    sky = np.array([200, 225, 250]) * (1 - yy) + np.array([150, 190, 235]) * yy
    img = np.broadcast_to(sky, (h, w, 3)).astype(np.float64).copy()
    img += np.clip(_noise(rng, h, w, 40, 10), 0, None)[:, :, None]
    frame = _colour(rng, 180, 255)
    bar = max(4, w // 30)
    for x in (0, w // 2 - bar // 2, w - bar):
        img[:, x : x + bar] = frame
    for y in (0, h // 2 - bar // 2, h - bar):
        img[y : y + bar, :] = frame
    return np.clip(img, 0, 255).astype(np.uint8)


def plain(rng: np.random.Generator, h: int, w: int) -> U8:
    img = np.ones((h, w, 3)) * np.array(_colour(rng, 200, 250), np.float64)
    img += _noise(rng, h, w, 4, 3)[:, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)


# --- ray-cast rooms --------------------------------------------------------------------------
@dataclass
class Plane:
    origin: F64
    u: F64
    v: F64
    texture: U8


def _box(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float,
         top: U8, side: U8) -> list[Plane]:  # fmt: skip
    """Axis-aligned box, y down (y0 = top surface, y1 = floor side)."""
    a = np.array
    return [
        Plane(a([x0, y0, z0]), a([x1 - x0, 0, 0]), a([0, 0, z1 - z0]), top),  # top
        Plane(a([x0, y0, z0]), a([x1 - x0, 0, 0]), a([0, y1 - y0, 0]), side),  # front
        Plane(a([x0, y0, z0]), a([0, 0, z1 - z0]), a([0, y1 - y0, 0]), side),  # left
        Plane(a([x1, y0, z0]), a([0, 0, z1 - z0]), a([0, y1 - y0, 0]), side),  # right
    ]


@dataclass
class Decor:
    wall: U8
    floor: U8
    bed: U8


def make_decor(rng: np.random.Generator) -> Decor:
    return Decor(wallpaper(rng, 520, 900), carpet(rng, 600, 700), bedding(rng, 400, 400))


def make_room(rng: np.random.Generator, decor: Decor, samples: list[U8]) -> list[Plane]:
    a = np.array
    wd, depth = rng.uniform(*STYLE.room_width), rng.uniform(*STYLE.room_depth)
    cam_h, ceil = 1.4, 1.2
    hx = wd / 2
    floor_y, ceil_y = cam_h, -ceil
    planes = [
        Plane(a([-hx, ceil_y, depth]), a([wd, 0, 0]), a([0, floor_y - ceil_y, 0]), decor.wall),
        Plane(a([-hx, ceil_y, -1.0]), a([0, 0, depth + 1]), a([0, floor_y - ceil_y, 0]),
              decor.wall),
        Plane(a([hx, ceil_y, -1.0]), a([0, 0, depth + 1]), a([0, floor_y - ceil_y, 0]),
              decor.wall),
        Plane(a([-hx, floor_y, -1.0]), a([wd, 0, 0]), a([0, 0, depth + 1]), decor.floor),
        Plane(a([-hx, ceil_y, -1.0]), a([wd, 0, 0]), a([0, 0, depth + 1]), plain(rng, 64, 64)),
    ]  # fmt: skip
    wood_tex = wood(rng, 256, 256)
    # bed against the back wall
    bw, bl = rng.uniform(1.4, 2.0), rng.uniform(1.9, 2.2)
    bx = rng.uniform(-hx + 0.2, hx - bw - 0.2)
    planes += _box(bx, bx + bw, floor_y - 0.55, floor_y, depth - bl, depth - 0.02, decor.bed,
                   wood_tex)  # fmt: skip
    planes.append(Plane(a([bx, floor_y - 1.1, depth - 0.03]), a([bw, 0, 0]), a([0, 0.55, 0]),
                        wood_tex))  # fmt: skip
    # nightstand and a wardrobe
    nx = bx + bw + 0.1 if bx + bw + 0.6 < hx else bx - 0.6
    planes += _box(nx, nx + 0.5, floor_y - 0.6, floor_y, depth - 0.5, depth - 0.02,
                   wood(rng, 128, 128), wood(rng, 128, 128))  # fmt: skip
    side = -1 if rng.random() < 0.5 else 1
    wz = rng.uniform(0.5, max(0.6, depth - 2.3))
    wx0 = -hx + 0.02 if side < 0 else hx - 0.62
    planes += _box(wx0, wx0 + 0.6, floor_y - 2.0, floor_y, wz, wz + 1.2, wood_tex,
                   wood(rng, 256, 256))  # fmt: skip
    # window on the other side wall, pictures on the back and side walls
    wxp = hx - 0.01 if side < 0 else -hx + 0.01
    wzp = rng.uniform(1.0, max(1.1, depth - 1.8))
    planes.append(Plane(a([wxp, -0.6, wzp]), a([0, 0, 1.2]), a([0, 1.3, 0]), window(rng, 300, 280)))
    for _ in range(int(rng.integers(*STYLE.pictures))):
        pw, ph = rng.uniform(0.4, 0.9), rng.uniform(0.3, 0.7)
        px = rng.uniform(-hx + 0.1, hx - pw - 0.1)
        planes.append(
            Plane(a([px, -0.6 - rng.uniform(0, 0.2), depth - 0.01]), a([pw, 0, 0]),
                  a([0, ph, 0]), art(rng, int(ph * 300), int(pw * 300), samples))
        )  # fmt: skip
    pz = rng.uniform(1.0, depth - 1.5)
    px_side = -hx + 0.01 if side > 0 else hx - 0.01
    planes.append(Plane(a([px_side, -0.5, pz]), a([0, 0, 0.8]), a([0, 0.6, 0]),
                        art(rng, 180, 240, samples)))  # fmt: skip
    return planes


def _rotation(yaw: float, pitch: float, roll: float) -> F64:
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry  # camera-to-world


def _footprint(p: Plane, pos: F64, rot: F64, f: float, w: int, h: int
               ) -> tuple[int, int, int, int] | None:  # fmt: skip
    """Pixel box holding the plane's image (None: the whole frame, a corner is behind us)."""
    corners = np.array([p.origin, p.origin + p.u, p.origin + p.v, p.origin + p.u + p.v])
    cam = (corners - pos) @ rot  # world-to-camera (rot is camera-to-world)
    if np.any(cam[:, 2] <= 1e-3):
        return None
    x = cam[:, 0] / cam[:, 2] * f + w / 2
    y = cam[:, 1] / cam[:, 2] * f + h / 2
    x0, x1 = max(0, int(np.floor(x.min())) - 1), min(w, int(np.ceil(x.max())) + 2)
    y0, y1 = max(0, int(np.floor(y.min())) - 1), min(h, int(np.ceil(y.max())) + 2)
    return (x0, y0, x1, y1)


def render(planes: list[Plane], pos: F64, rot: F64, w: int = WIDTH, h: int = HEIGHT,
           focal: float = 0.8) -> U8:  # fmt: skip
    f = focal * w
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    d_cam = np.stack([(xs - w / 2) / f, (ys - h / 2) / f, np.ones_like(xs)], axis=-1)
    d_all = (d_cam.reshape(-1, 3) @ rot.T.astype(np.float32)).astype(np.float32).reshape(h, w, 3)
    depth_all = np.full((h, w), np.inf, np.float32)
    out_all = np.zeros((h, w, 3), np.uint8)
    for p in planes:
        box = _footprint(p, pos, rot, f, w, h)
        x0, y0, x1, y1 = box if box is not None else (0, 0, w, h)
        if x1 <= x0 or y1 <= y0:
            continue
        d = d_all[y0:y1, x0:x1].reshape(-1, 3)
        depth = depth_all[y0:y1, x0:x1].reshape(-1)
        n = np.cross(p.u, p.v)
        basis = np.stack([n, p.u / float(p.u @ p.u), p.v / float(p.v @ p.v)], axis=1)
        proj = d @ basis.astype(np.float32)  # (d.n, d.u', d.v')
        rel0 = (pos - p.origin) @ basis  # (rel0.n, rel0.u', rel0.v')
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.float32(-rel0[0]) / proj[:, 0]
        s = np.float32(rel0[1]) + t * proj[:, 1]
        r = np.float32(rel0[2]) + t * proj[:, 2]
        ok = (t > 1e-3) & (s >= 0) & (s < 1) & (r >= 0) & (r < 1) & (t < depth)
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            continue
        th, tw = p.texture.shape[:2]
        pad = (-idx.size) % 1024
        mx = np.pad(s[idx] * tw, (0, pad)).astype(np.float32).reshape(-1, 1024)
        my = np.pad(r[idx] * th, (0, pad)).astype(np.float32).reshape(-1, 1024)
        sampled = cv2.remap(p.texture, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        bw = x1 - x0
        rows, cols = idx // bw + y0, idx % bw + x0
        out_all[rows, cols] = sampled.reshape(-1, 3)[: idx.size]
        depth_all[rows, cols] = t[idx]
    return out_all


def base_pose(rng: np.random.Generator) -> tuple[F64, F64]:
    pos = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.15, 0.15), rng.uniform(-0.2, 0.5)])
    rot = _rotation(rng.uniform(-0.3, 0.3), rng.uniform(-0.4, -0.15), 0.0)
    return pos, rot


# --- query degradations ---------------------------------------------------------------------
def occlude(rng: np.random.Generator, img: U8, lo: float, hi: float) -> tuple[U8, float]:
    """Cover lo..hi of ``img`` with figure-shaped patterned blobs (no people depicted)."""
    h, w = img.shape[:2]
    target = rng.uniform(lo, hi)
    mask = np.zeros((h, w), np.uint8)
    out = img.copy()
    tries = 0
    while mask.mean() / 255 < target and tries < 12:
        tries += 1
        sw = rng.uniform(0.25, 0.5) * w
        cx = rng.uniform(0, w)
        top = rng.uniform(0.0, 0.4) * h
        shape = np.zeros((h, w), np.uint8)
        head_r = int(sw * 0.22)
        cv2.circle(shape, (int(cx), int(top + head_r)), head_r, 255, -1, cv2.LINE_AA)
        body = np.array([[cx - sw / 2, top + 2 * head_r], [cx + sw / 2, top + 2 * head_r],
                         [cx + sw * 0.4, h], [cx - sw * 0.4, h]], np.int32)  # fmt: skip
        cv2.fillPoly(shape, [body], 255, cv2.LINE_AA)
        cv2.ellipse(shape, (int(cx), int(top + 2.6 * head_r)), (int(sw * 0.75), int(sw * 0.18)),
                    float(rng.uniform(-20, 20)), 0, 360, 255, -1)  # fmt: skip
        extra = (shape > 0) & (mask == 0)
        if extra.mean() > 0 and (mask.mean() / 255 + extra.mean()) > hi + 0.03:
            continue
        pattern = bedding(rng, h, w) if rng.random() < 0.5 else carpet(rng, h, w)
        out[shape > 0] = pattern[shape > 0]
        mask |= shape
    return out, float(mask.mean() / 255)


def photometric(rng: np.random.Generator, img: U8) -> tuple[U8, dict[str, float]]:
    gain = rng.uniform(0.6, 1.4)
    bias = rng.uniform(-25, 25)
    gamma = rng.uniform(0.75, 1.3)
    cast = rng.uniform(0.85, 1.15, 3)
    x = img.astype(np.float64) / 255
    x = np.clip(x, 0, 1) ** gamma
    x = x * 255 * gain * cast[None, None, :] + bias
    out = np.clip(x, 0, 255).astype(np.uint8)
    return out, {"gain": gain, "bias": bias, "gamma": gamma}


def jpeg(img: U8, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])  # fmt: skip
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return bytes(buf)


def make_query(rng: np.random.Generator, planes: list[Plane], pos: F64, rot: F64
               ) -> tuple[bytes, dict[str, float]]:  # fmt: skip
    move = rng.uniform(0.1, 0.45)
    direction = rng.normal(0, 1, 3)
    direction[1] *= 0.3
    direction /= np.linalg.norm(direction)
    yaw, pitch, roll = rng.uniform(-0.25, 0.25), rng.uniform(-0.1, 0.1), rng.uniform(-0.05, 0.05)
    qpos = pos + move * direction
    qrot = rot @ _rotation(yaw, pitch, roll)
    view = render(planes, qpos, qrot, 960, 720)
    frac = rng.uniform(0.3, 0.6)
    aspect = rng.uniform(0.75, 1.33)
    ch = round(math.sqrt(frac * 960 * 720 / aspect))
    cw = round(frac * 960 * 720 / ch)
    ch, cw = min(ch, 720), min(cw, 960)
    y, x = int(rng.integers(0, 720 - ch + 1)), int(rng.integers(0, 960 - cw + 1))
    crop = view[y : y + ch, x : x + cw]
    crop, covered = occlude(rng, crop, 0.3, 0.5)
    crop, photo = photometric(rng, crop)
    scale = rng.uniform(0.5, 1.2)
    size = (max(32, int(cw * scale)), max(32, int(ch * scale)))
    crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    q = int(rng.integers(40, 91))
    params = {"move_m": move, "yaw_deg": math.degrees(yaw), "crop_fraction": frac,
              "occluded_fraction": covered, "rescale": scale, "jpeg_quality": q, **photo}  # fmt: skip
    return jpeg(crop, q), params


def collage(rng: np.random.Generator, samples: list[U8]) -> U8:
    img = plain(rng, HEIGHT, WIDTH)
    makers = [wallpaper, carpet, bedding, wood]
    for _ in range(int(rng.integers(3, 8))):
        h, w = int(rng.integers(100, HEIGHT)), int(rng.integers(100, WIDTH))
        y, x = int(rng.integers(0, HEIGHT - h + 1)), int(rng.integers(0, WIDTH - w + 1))
        if samples and rng.random() < 0.5:
            tile = art(rng, h, w, samples)
        else:
            tile = makers[int(rng.integers(0, len(makers)))](rng, h, w)
        img[y : y + h, x : x + w] = tile
    return img


_SAMPLES: list[U8] = []
_DECOR: dict[tuple[int, int], Decor] = {}


def _init_worker(style: str = "default") -> None:
    global _SAMPLES, STYLE
    _SAMPLES = _samples()
    STYLE = STYLES[style]


def _decor(seed: int, family: int, slot: int) -> Decor:
    key = (family, slot)
    if key not in _DECOR:
        if len(_DECOR) > DECOR_POOL + 8:  # holds every distractor design (~3 MB each)
            _DECOR.clear()
        _DECOR[key] = make_decor(np.random.default_rng([seed, family, slot]))
    return _DECOR[key]


def do_scene(out: Path, seed: int, i: int, n_queries: int) -> dict[str, object]:
    """Render scene ``i`` (index view + queries) unless its record exists already."""
    meta = out / "meta" / f"scene_{i:05d}.json"
    if meta.exists():
        return dict(json.loads(meta.read_text(encoding="utf-8")))
    rng = np.random.default_rng([seed, 1, i])
    planes = make_room(rng, _decor(seed, 0, i // 4), _SAMPLES)
    pos, rot = base_pose(rng)
    name = f"index/scene_{i:05d}.jpg"
    (out / name).write_bytes(jpeg(render(planes, pos, rot), int(rng.integers(80, 96))))
    queries = []
    for j in range(n_queries):
        data, params = make_query(rng, planes, pos, rot)
        qname = f"queries/q_{i:05d}_{j}.jpg"
        (out / qname).write_bytes(data)
        queries.append({"file": qname, "scene": i, **params})
    record = {"scene": {"id": i, "file": name, "chain": i // 4}, "queries": queries}
    meta.write_text(json.dumps(record), encoding="utf-8")
    return record


def do_distractor(out: Path, seed: int, k: int) -> str:
    name = f"index/distractor_{k:05d}.jpg"
    if (out / name).exists():
        return name
    rng = np.random.default_rng([seed, 2, k])
    if rng.random() < 0.75:
        planes = make_room(rng, _decor(seed, 3, k % DECOR_POOL), _SAMPLES)
        pos, rot = base_pose(rng)
        img = render(planes, pos, rot)
    else:
        img = collage(rng, _SAMPLES)
    (out / name).write_bytes(jpeg(img, int(rng.integers(75, 96))))
    return name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--scenes", type=int, default=200, help="rooms with queries")
    ap.add_argument("--queries-per-scene", type=int, default=2)
    ap.add_argument("--distractors", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--style", choices=sorted(STYLES), default="default",
                    help="texture and room parameters (see Style)")  # fmt: skip
    args = ap.parse_args(argv)
    out: Path = args.out
    for sub in ("index", "queries", "meta"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    start = time.time()
    with ProcessPoolExecutor(
        args.workers, initializer=_init_worker, initargs=(args.style,)
    ) as pool:
        records = list(pool.map(do_scene, [out] * args.scenes, [args.seed] * args.scenes,
                                range(args.scenes), [args.queries_per_scene] * args.scenes))  # fmt: skip
        print(f"scenes done {time.time() - start:.0f}s", file=sys.stderr)
        distractors = list(pool.map(do_distractor, [out] * args.distractors,
                                    [args.seed] * args.distractors, range(args.distractors),
                                    chunksize=4))  # fmt: skip
    manifest = {
        "generator": "benchmarks/gen_places.py",
        "seed": args.seed,
        "style": args.style,
        "samples": "scikit-image bundled sample images (BSD-3-Clause/public domain), no people",
        "scenes": [r["scene"] for r in records],
        "queries": [q for r in records for q in r["queries"]],  # type: ignore[attr-defined]
        "distractors": distractors,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    print(json.dumps({"scenes": len(records), "queries": len(manifest["queries"]),
                      "distractors": len(distractors), "seconds": round(time.time() - start, 1)}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
