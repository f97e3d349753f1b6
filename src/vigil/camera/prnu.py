"""Camera sensor fingerprints (PRNU) and the peak-to-correlation-energy (PCE) test.

Our own implementation of the published algorithm (Lukáš, Fridrich & Goljan 2006; Chen, Fridrich,
Goljan & Lukáš 2008; Goljan, Fridrich & Filler 2009):

* **Noise residual** ``W = I - F(I)`` of each colour channel, where ``F`` is the wavelet denoiser
  of Mihçak et al.: a 4-level ``db4`` decomposition whose detail coefficients are shrunk by a
  local Wiener filter (variance estimated as the minimum over 3/5/7/9 windows, noise sigma 5).
* **Fingerprint** (maximum-likelihood estimate) ``K = sum(W_i I_i) / sum(I_i^2)`` per channel,
  saturated pixels excluded; then converted to grey, made zero-mean (row and column means
  removed, which kills linear-pattern artefacts shared by a camera model) and Wiener-filtered in
  the Fourier domain (removes periodic JPEG/demosaicing peaks).
* **Test**: the test image's residual (same post-processing) is cross-correlated with ``I K``;
  PCE = peak^2 / mean energy of the correlation away from the peak (11 x 11 excluded), signed.
  PCE > 60 is the published decision threshold (Goljan et al. 2009, over a million Flickr
  images). An image of the fingerprint's size is tested at zero shift; a smaller image is
  treated as a crop and every offset is searched (the peak gives the crop's position).

Limits, stated plainly: resized (rescaled) images and heavily re-compressed images (social-media
recompression, JPEG quality well below ~75) may no longer carry a usable fingerprint; a low PCE is
then "no evidence", never evidence of a different camera. Pixels are read exactly as stored
(``apply_orientation=False``) because the sensor pattern is tied to the sensor's own layout.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from vigil.errors import DamagedInput, InvalidInput, WrongFormat

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

PCE_THRESHOLD = 60.0
"""Published decision threshold for "same camera" (Goljan, Fridrich & Filler 2009)."""
MIN_IMAGES = 20
WAVELET = "db4"
LEVELS = 4
SIGMA = 5.0
MAGIC = b"VPF1"
VERSION = 1


def _local_wiener(coef: F32, var: float) -> F32:
    """Mihçak's shrinkage: keep the part of ``coef`` that looks like noise of variance ``var``."""
    sq = coef * coef
    est: F32 | None = None
    for size in (3, 5, 7, 9):
        local = cv2.blur(sq, (size, size), borderType=cv2.BORDER_REFLECT) - var
        local = np.maximum(local, 0)
        est = local if est is None else np.minimum(est, local)
    assert est is not None  # noqa: S101 - loop always runs
    return np.asarray(coef * (var / (est + var)), np.float32)


def noise_residual_channel(channel: F32, sigma: float = SIGMA) -> F32:
    """Noise residual of one channel (float32, same shape)."""
    import pywt

    h, w = channel.shape
    levels = max(1, min(LEVELS, pywt.dwt_max_level(min(h, w), WAVELET)))
    m = 2**levels
    ph, pw = (-h) % m, (-w) % m
    x = np.pad(channel, ((0, ph), (0, pw)), mode="symmetric") if ph or pw else channel
    coeffs = pywt.wavedec2(x, WAVELET, level=levels, mode="periodization")
    out: list[Any] = [np.zeros_like(coeffs[0])]
    var = sigma * sigma
    for detail in coeffs[1:]:
        out.append(tuple(_local_wiener(np.asarray(d, np.float32), var) for d in detail))
    res = pywt.waverec2(out, WAVELET, mode="periodization")
    return np.asarray(res[:h, :w], np.float32)


def noise_residual(rgb: U8, sigma: float = SIGMA) -> F32:
    """Per-channel noise residuals of an H x W x 3 uint8 image (H x W x 3 float32)."""
    x = rgb.astype(np.float32)
    return np.stack([noise_residual_channel(x[:, :, c], sigma) for c in range(3)], axis=2)


def to_grey(x: F32) -> F32:
    """ITU-R BT.601 luma weights, as the reference implementation uses."""
    return np.asarray(0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2], np.float32)


def zero_mean(x: F32) -> F32:
    """Remove the mean, then every column mean and every row mean."""
    y = x - x.mean()
    y = y - y.mean(axis=0, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    return np.asarray(y, np.float32)


def wiener_dft(x: F32, sigma: float | None = None) -> F32:
    """Suppress periodic peaks: Wiener-shrink the Fourier magnitude, keep the phase."""
    if sigma is None:
        sigma = float(x.std())
    f = np.fft.fft2(x)
    mag = np.abs(f) / np.sqrt(x.size)
    mag32 = mag.astype(np.float32)
    filtered = _local_wiener(mag32, sigma * sigma).astype(np.float64)
    ratio = np.divide(filtered, mag, out=np.zeros_like(mag), where=mag > 0)
    return np.asarray(np.real(np.fft.ifft2(f * ratio)), np.float32)


def _saturation_mask(rgb: U8) -> npt.NDArray[np.bool_]:
    """True where a channel is saturated (255): those pixels carry no PRNU."""
    return np.asarray(rgb >= 255, np.bool_)


@dataclass
class Fingerprint:
    """A camera's estimated PRNU (grey, zero-mean, Wiener-filtered) with its provenance."""

    k: F32
    n_images: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.k.shape[0]), int(self.k.shape[1]))

    def save(self, path: Path) -> str:
        """Write the ``VPF1`` file atomically; return its SHA-256.

        Layout: ``b"VPF1" | uint32 L | L bytes UTF-8 JSON header | float32 H x W (C order)``;
        the header holds ``version``, ``height``, ``width``, ``n_images`` and ``meta``.
        """
        head = json.dumps(
            {
                "version": VERSION,
                "height": self.shape[0],
                "width": self.shape[1],
                "n_images": self.n_images,
                "meta": self.meta,
            },
            sort_keys=True,
        ).encode()
        payload = MAGIC + struct.pack("<I", len(head)) + head
        payload += np.ascontiguousarray(self.k, "<f4").tobytes()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, path)
        return hashlib.sha256(payload).hexdigest()

    @classmethod
    def load(cls, path: Path) -> Fingerprint:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read fingerprint {path}: {exc}") from exc
        if len(data) < 8 or data[:4] != MAGIC:
            raise WrongFormat(f"{path}: not a VPF1 camera fingerprint")
        (hlen,) = struct.unpack_from("<I", data, 4)
        try:
            header = json.loads(data[8 : 8 + hlen])
            h, w, n = int(header["height"]), int(header["width"]), int(header["n_images"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DamagedInput(f"{path}: bad VPF1 header: {exc}") from exc
        if header.get("version") != VERSION:
            raise InvalidInput(f"{path}: unsupported VPF1 version {header.get('version')}")
        if len(data) != 8 + hlen + 4 * h * w:
            raise DamagedInput(f"{path}: VPF1 file is truncated or has trailing bytes")
        k = np.frombuffer(data, "<f4", count=h * w, offset=8 + hlen).reshape(h, w)
        return cls(k=k.astype(np.float32), n_images=n, meta=dict(header.get("meta") or {}))


class FingerprintBuilder:
    """Accumulates ``sum(W I)`` and ``sum(I^2)`` image by image (constant memory)."""

    def __init__(self, sigma: float = SIGMA) -> None:
        self.sigma = sigma
        self.shape: tuple[int, int] | None = None
        self._num: npt.NDArray[np.float64] | None = None
        self._den: npt.NDArray[np.float64] | None = None
        self.count = 0

    def add(self, rgb: U8) -> None:
        """Add one image (H x W x 3 uint8, pixels as stored). Raises on a size mismatch."""
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise InvalidInput(f"expected an H x W x 3 image, got {rgb.shape}")
        shape = (int(rgb.shape[0]), int(rgb.shape[1]))
        if self.shape is None:
            self.shape = shape
            self._num = np.zeros((*shape, 3), np.float64)
            self._den = np.zeros((*shape, 3), np.float64)
        elif shape != self.shape:
            raise InvalidInput(f"image is {shape[1]}x{shape[0]}, fingerprint images are "
                               f"{self.shape[1]}x{self.shape[0]}")  # fmt: skip
        if self._num is None or self._den is None:  # pragma: no cover - set above
            raise InvalidInput("fingerprint builder not initialised")
        w = noise_residual(rgb, self.sigma).astype(np.float64)
        i = rgb.astype(np.float64)
        i[_saturation_mask(rgb)] = 0.0
        self._num += w * i
        self._den += i * i
        self.count += 1

    def finish(self, meta: dict[str, Any] | None = None) -> Fingerprint:
        if self._num is None or self._den is None or self.count == 0:
            raise InvalidInput("no images were added to the fingerprint")
        k = np.divide(self._num, self._den, out=np.zeros_like(self._num), where=self._den > 0)
        grey = zero_mean(to_grey(k.astype(np.float32)))
        grey = wiener_dft(grey)
        return Fingerprint(k=grey, n_images=self.count, meta=dict(meta or {}))


def estimate_fingerprint(images: Sequence[U8], meta: dict[str, Any] | None = None) -> Fingerprint:
    """Fingerprint from a sequence of same-sized images of one camera."""
    b = FingerprintBuilder()
    for img in images:
        b.add(img)
    return b.finish(meta)


def query_residual(rgb: U8) -> tuple[F32, F32]:
    """(processed grey residual, grey intensity) of a test image."""
    w = zero_mean(to_grey(noise_residual(rgb)))
    w = wiener_dft(w)
    return w, to_grey(rgb.astype(np.float32))


def _crosscorr(a: F32, b: F32) -> npt.NDArray[np.float64]:
    """Circular cross-correlation: c[s] = sum_x a[x] b[x + s] (same shapes)."""
    a0 = a - a.mean()
    b0 = b - b.mean()
    fa = np.fft.rfft2(a0)
    fb = np.fft.rfft2(b0)
    return np.asarray(np.fft.irfft2(np.conj(fa) * fb, s=a.shape), np.float64)


def pce(corr: npt.NDArray[np.float64], peak: tuple[int, int], exclude: int = 11) -> float:
    """Signed peak-to-correlation energy at ``peak`` (``exclude`` x ``exclude`` left out)."""
    h, w = corr.shape
    py, px = peak
    value = float(corr[py, px])
    r = exclude // 2
    mask = np.ones((h, w), bool)
    ys = np.arange(py - r, py + r + 1) % h
    xs = np.arange(px - r, px + r + 1) % w
    mask[np.ix_(ys, xs)] = False
    energy = float(np.mean(corr[mask] ** 2))
    if energy <= 0:
        return 0.0
    return float(np.sign(value) * value * value / energy)


@dataclass(frozen=True)
class CameraCheck:
    """The outcome of testing one image against one fingerprint (evidence, not a verdict)."""

    pce: float
    offset: tuple[int, int]
    """(x, y) of the image's top-left corner within the sensor frame."""
    searched: bool
    """Whether every crop offset was searched (a smaller image) or only the zero shift."""
    rotated: int
    """Quarter turns applied to the image to bring it to the fingerprint's orientation."""
    threshold: float = PCE_THRESHOLD
    notes: tuple[str, ...] = ()

    @property
    def match(self) -> bool:
        """PCE above the threshold: a candidate same-camera lead for a reviewer."""
        return self.pce > self.threshold

    def as_dict(self) -> dict[str, Any]:
        return {
            "pce": round(self.pce, 2),
            "threshold": self.threshold,
            "candidate_same_camera": self.match,
            "offset_x": self.offset[0],
            "offset_y": self.offset[1],
            "searched_offsets": self.searched,
            "rotated_quarter_turns": self.rotated,
            "notes": list(self.notes),
        }


LIMITS_NOTE = (
    "a PCE below the threshold is no evidence either way: resized or heavily re-compressed "
    "images may not carry a usable fingerprint"
)


def check_image(rgb: U8, fp: Fingerprint, *, search: bool | None = None) -> CameraCheck:
    """Test ``rgb`` (pixels as stored) against ``fp``.

    ``search=None`` decides by size: equal size (or rotated by 90 degrees) tests the zero shift,
    a smaller image searches every crop offset. ``search=True`` forces the offset search on an
    equal-sized image (more chance peaks: keep the threshold in mind).
    """
    fh, fw = fp.shape
    notes: list[str] = [LIMITS_NOTE]
    rotated = 0
    img = rgb
    if img.shape[:2] != (fh, fw) and img.shape[1::-1] == (fh, fw) and fh != fw:
        img = np.ascontiguousarray(np.rot90(img, 1))
        rotated = 1
        notes.append("image was rotated by 90 degrees to the sensor's orientation")
    h, w = img.shape[:2]
    if h > fh or w > fw:
        raise InvalidInput(
            f"image {w}x{h} is larger than the fingerprint {fw}x{fh}: it was not taken at this "
            "sensor's native size (resized?), so it cannot be tested"
        )
    resid, inten = query_residual(img)
    same = (h, w) == (fh, fw)
    do_search = (not same) if search is None else (search or not same)
    if same and not do_search:
        corr = _crosscorr(resid, inten * fp.k)
        value = pce(corr, (0, 0))
        if rotated:
            return CameraCheck(value, (0, 0), False, rotated, notes=tuple(notes))
        # also try the upside-down orientation (portrait/landscape flips by 180 degrees)
        corr180 = _crosscorr(resid[::-1, ::-1].copy(), inten[::-1, ::-1] * fp.k)
        value180 = pce(corr180, (0, 0))
        if value180 > value:
            notes.append("best with the image rotated by 180 degrees")
            return CameraCheck(value180, (0, 0), False, 2, notes=tuple(notes))
        return CameraCheck(value, (0, 0), False, 0, notes=tuple(notes))
    # crop: place W * I in the sensor frame and correlate with K over every offset
    a = np.zeros((fh, fw), np.float32)
    a[:h, :w] = resid * inten
    a[:h, :w] -= a[:h, :w].mean()
    corr = np.asarray(
        np.fft.irfft2(np.conj(np.fft.rfft2(a)) * np.fft.rfft2(fp.k - fp.k.mean()), s=(fh, fw)),
        np.float64,
    )
    # only offsets that keep the crop inside the frame are possible
    valid = np.full((fh, fw), -np.inf)
    valid[: fh - h + 1, : fw - w + 1] = corr[: fh - h + 1, : fw - w + 1]
    py, px = np.unravel_index(int(np.argmax(valid)), valid.shape)
    value = pce(corr, (int(py), int(px)))
    notes.append(f"searched {(fh - h + 1) * (fw - w + 1)} crop offsets; chance peaks are higher "
                 "than at a single known position")  # fmt: skip
    return CameraCheck(value, (int(px), int(py)), True, rotated, notes=tuple(notes))
