"""Uploaded files: the real type from the bytes, metadata-free images with a phone rendition, random stored names.

The name a browser sends and the Content-Type it claims are never trusted: the type comes from the file's first
bytes (and, for Office files, from the parts inside the zip). Images are decoded and re-encoded by Pillow, which
drops EXIF (GPS position, camera serial), XMP and comments.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from portal.errors import ValidationFailed

JPEG, PNG, WEBP, PDF, XLSX, DOCX = "jpg", "png", "webp", "pdf", "xlsx", "docx"
MIME = {
    JPEG: "image/jpeg",
    PNG: "image/png",
    WEBP: "image/webp",
    PDF: "application/pdf",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
IMAGE_TYPES = {JPEG, PNG, WEBP}
ALLOWED_TEXT = "图片（JPEG、PNG、WebP）或文档（PDF、XLSX、DOCX）"
# Decompression bombs: refuse images with more pixels than this (a 40-megapixel photo passes).
MAX_PIXELS = 50_000_000
_NAME_JUNK = re.compile(r"[^\w\u4e00-\u9fff.\-（）()]+")


@dataclass(frozen=True)
class Stored:
    """What was written to the upload folder."""

    kind: str  # "image" or "document"
    ext: str
    mime: str
    filename: str
    stored_name: str
    rendition_name: str | None
    size: int
    width: int | None
    height: int | None
    sha256: str


def human_size(n: int) -> str:
    """12.5 MB / 300 KB, for messages."""
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


def sniff(data: bytes) -> str | None:
    """The file's real type from its bytes (one of the extensions above), or None when it is none of them."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return None
        if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
            return XLSX
        if "[Content_Types].xml" in names and "word/document.xml" in names:
            return DOCX
    return None


def clean_filename(name: str, ext: str) -> str:
    """The uploader's name without a path, control or odd characters, ending in the real type's extension."""
    base = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = _NAME_JUNK.sub("_", stem).strip("._-")[:80] or "附件"
    return f"{stem}.{ext}"


def _reencode(data: bytes, ext: str, rendition_px: int) -> tuple[bytes, bytes | None, int, int]:
    """Decode, apply the EXIF orientation, save again without metadata; plus a ≤ rendition_px copy if larger."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ValidationFailed({"file": f"图片像素过多（{img.width}×{img.height}），请缩小后上传。"})
            img.load()
            image = ImageOps.exif_transpose(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValidationFailed({"file": "图片已损坏或无法识别，请重新导出后上传。"}) from exc
    if image.mode == "P":
        image = image.convert("RGBA")  # keeps palette transparency, which lives in the info dict dropped below
    if ext == JPEG and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    # A fresh image carries no info dict: nothing of the original's metadata can be copied by accident.
    clean = Image.new(image.mode, image.size)
    clean.paste(image)

    def encode(img) -> bytes:
        out = io.BytesIO()
        if ext == JPEG:
            img.save(out, "JPEG", quality=85, optimize=True)
        elif ext == PNG:
            img.save(out, "PNG", optimize=True)
        else:
            img.save(out, "WEBP", quality=85)
        return out.getvalue()

    full = encode(clean)
    small = None
    if max(clean.size) > rendition_px:
        copy = clean.copy()
        copy.thumbnail((rendition_px, rendition_px))
        small = encode(copy)
    return full, small, clean.width, clean.height


def _write(folder: Path, data: bytes, ext: str) -> str:
    name = f"{secrets.token_hex(16)}.{ext}"
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return name


def store(data: bytes, original_name: str, folder: str | Path, max_bytes: int, rendition_px: int = 800) -> Stored:
    """Check and store one upload; raises ValidationFailed (nothing written) when it is refused."""
    if not data:
        raise ValidationFailed({"file": "请选择要上传的文件。"})
    if len(data) > max_bytes:
        raise ValidationFailed({"file": f"文件过大：不能超过 {human_size(max_bytes)}。"})
    ext = sniff(data)
    if ext is None:
        raise ValidationFailed({"file": f"不支持这种文件：只能上传{ALLOWED_TEXT}。文件类型按内容识别，改扩展名无效。"})
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rendition_name = None
    width = height = None
    if ext in IMAGE_TYPES:
        data, small, width, height = _reencode(data, ext, rendition_px)
        if small is not None:
            rendition_name = _write(folder, small, ext)
    stored_name = _write(folder, data, ext)
    return Stored(
        kind="image" if ext in IMAGE_TYPES else "document", ext=ext, mime=MIME[ext],
        filename=clean_filename(original_name, ext), stored_name=stored_name, rendition_name=rendition_name,
        size=len(data), width=width, height=height, sha256=hashlib.sha256(data).hexdigest(),
    )


def remove(folder: str | Path, *names: str | None) -> None:
    """Delete stored files (a failed database write must not leave orphans)."""
    for name in names:
        if name:
            try:
                (Path(folder) / name).unlink()
            except FileNotFoundError:
                pass


def path_of(folder: str | Path, name: str) -> Path:
    """The stored file's path; names are ours (hex + extension), never a user's."""
    if not re.fullmatch(r"[0-9a-f]{32}\.(jpg|png|webp|pdf|xlsx|docx)", name):
        raise ValueError("not a stored name")
    return Path(folder) / name
