"""Camera fingerprints from folders of photos and tests of single images, audited."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

from vigil.camera.prnu import MIN_IMAGES, Fingerprint, FingerprintBuilder, check_image
from vigil.content.decode import decode
from vigil.errors import Conflict, InvalidInput, VigilError
from vigil.evidence.readonly import open_readonly
from vigil.settings import Settings
from vigil.store import audit
from vigil.store import places as store
from vigil.store.db import Database

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".heic"}


def _stored_pixels(data: bytes) -> Any:
    """Pixels exactly as stored (no orientation applied: the sensor layout matters)."""
    return decode(data, apply_orientation=False, exact=True).pixels


def fingerprint_folder(
    settings: Settings,
    db: Database,
    folder: Path,
    *,
    actor: str,
    out: Path | None = None,
    name: str | None = None,
    min_images: int = MIN_IMAGES,
    device: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """Estimate a fingerprint from the photos in ``folder`` (one camera); optionally register it.

    Photos whose size differs from the most common one are skipped with a warning (a rotated
    photo is turned back); unreadable files are skipped with a warning.
    """
    if min_images < 2:
        raise InvalidInput("min_images must be at least 2")
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder")
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    warnings: list[str] = []
    sizes: dict[Path, tuple[int, int]] = {}
    for p in files:
        try:
            with open_readonly(p) as fh:
                from vigil.content.decode import open_image

                img = open_image(fh)
                sizes[p] = (int(img.size[1]), int(img.size[0]))
                img.close()
        except (VigilError, OSError) as exc:
            warnings.append(f"{p.name}: unreadable ({exc})")
    if not sizes:
        raise InvalidInput(f"no readable photos in {folder}")
    common = Counter(tuple(sorted(s)) for s in sizes.values()).most_common(1)[0][0]
    builder = FingerprintBuilder()
    digests = []
    for p, size in sizes.items():
        if tuple(sorted(size)) != common:
            warnings.append(
                f"{p.name}: {size[1]}x{size[0]} differs from the majority size; skipped"
            )
            continue
        with open_readonly(p) as fh:
            data = fh.read()
        try:
            pixels = _stored_pixels(data)
        except VigilError as exc:
            warnings.append(f"{p.name}: {exc}")
            continue
        if builder.shape is not None and pixels.shape[:2] != builder.shape:
            pixels = pixels.transpose(1, 0, 2)[::-1].copy()  # portrait -> landscape
        try:
            builder.add(pixels)
        except InvalidInput as exc:
            warnings.append(f"{p.name}: {exc}")
            continue
        digests.append(hashlib.sha256(data).hexdigest())
    if builder.count < min_images:
        raise InvalidInput(
            f"only {builder.count} usable photos of one size in {folder}; at least {min_images} "
            "are needed for a reliable fingerprint"
        )
    meta = {
        "source": str(folder),
        "images_sha256": digests,
        **{k: v for k, v in (device or {}).items() if v},
    }
    fp = builder.finish(meta)
    if out is None:
        assert name is not None  # noqa: S101
        out = (
            settings.data_dir
            / "fingerprints"
            / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}.vpf"
        )
    with db.write() as s:
        if name is not None:
            try:
                store.get_fingerprint(s, name)
            except VigilError:
                pass
            else:
                raise Conflict(f"a fingerprint named {name!r} is already registered")
        digest = fp.save(out)
        if name is not None:
            dev = device or {}
            s.add(store.CameraFingerprint(
                name=name, make=dev.get("make"), model=dev.get("model"), serial=dev.get("serial"),
                width=fp.shape[1], height=fp.shape[0], n_images=fp.n_images, path=str(out.resolve()),
                sha256=digest, meta={"source": str(folder)}, created_by=actor,
            ))  # fmt: skip
        audit.append(s, actor, "camera.fingerprint",
                     details={"name": name, "path": str(out), "sha256": digest,
                              "n_images": fp.n_images, "source": str(folder),
                              "skipped": len(warnings)})  # fmt: skip
    return {"name": name, "path": str(out), "sha256": digest, "n_images": fp.n_images,
            "width": fp.shape[1], "height": fp.shape[0], "warnings": warnings}  # fmt: skip


def check_file(
    settings: Settings,
    db: Database,
    image: Path,
    *,
    actor: str,
    fingerprint: Path | None = None,
    name: str | None = None,
    search: bool | None = None,
) -> dict[str, Any]:
    """Test one image file against a fingerprint file or a registered fingerprint."""
    if (fingerprint is None) == (name is None):
        raise InvalidInput("give --fingerprint FILE or --name NAME (one of them)")
    if name is not None:
        with db.read() as s:
            row = store.get_fingerprint(s, name)
            fp_path, fp_digest = Path(row.path), row.sha256
        if hashlib.sha256(fp_path.read_bytes()).hexdigest() != fp_digest:
            raise InvalidInput(f"fingerprint file {fp_path} changed since it was registered")
    else:
        assert fingerprint is not None  # noqa: S101
        fp_path = fingerprint
    fp = Fingerprint.load(fp_path)
    try:
        with open_readonly(image) as fh:
            data = fh.read()
    except OSError as exc:
        raise InvalidInput(f"cannot read {image}: {exc}") from exc
    result = check_image(_stored_pixels(data), fp, search=search)
    out = {"image": str(image), "sha256": hashlib.sha256(data).hexdigest(),
           "fingerprint": str(fp_path), **result.as_dict()}  # fmt: skip
    with db.write() as s:
        audit.append(s, actor, "camera.test", details=out)
    return out
