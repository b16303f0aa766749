"""One backup archive: the database (backup.py) and the uploaded files (press attachments) together.

The archive is a gzip'd tar with `manifest.json` (format, database kind, the table digest, and the name, size and
SHA-256 of every uploaded file), the database copy, and `uploads/<name>` for each file. A restore checks every
member against the manifest before it changes anything, then puts the database back and replaces the upload
folder's content with the archived files (files added since the backup are removed, as the rows that named them
are gone). An old plain database backup (`.db` / `.dump`) still restores the database alone.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from portal.services.ops.backup import BackupError, backup, restore, table_digest

FORMAT = "portal-backup/1"
MANIFEST = "manifest.json"
# Uploaded files are named by the app (hex + extension, renditions too); anything else in the folder is not ours.
FILE_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,99}")


@dataclass
class ArchiveSummary:
    """What an archive holds (or a restore put back)."""

    path: Path
    tables: dict[str, int] = field(default_factory=dict)
    files: int = 0
    file_bytes: int = 0


def default_path(folder: Path) -> Path:
    """instance/backups/portal-YYYYmmdd-HHMMSS.tar.gz."""
    return folder / f"portal-{datetime.now(UTC):%Y%m%d-%H%M%S}.tar.gz"


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksums(folder: Path) -> dict[str, str]:
    """Name -> SHA-256 of every uploaded file in `folder` (what a restore must reproduce)."""
    if not folder.is_dir():
        return {}
    return {p.name: sha256_of(p) for p in sorted(folder.iterdir()) if p.is_file() and FILE_RE.fullmatch(p.name)}


def create(engine: Engine, uploads: Path, target: Path) -> ArchiveSummary:
    """Write the database and every uploaded file into one archive at `target` (written whole, then renamed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    db_name = "database.db" if engine.dialect.name == "sqlite" else "database.dump"
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        db_copy = backup(engine, Path(tmp) / db_name)
        digest = table_digest(engine)
        files = [(p, sha256_of(p), p.stat().st_size) for p in _upload_files(uploads)]
        manifest = {
            "format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "database": engine.dialect.name,
            "database_file": db_name, "database_sha256": sha256_of(db_copy),
            "tables": {name: count for name, (count, _) in digest.items()},
            "files": [{"name": p.name, "size": size, "sha256": sha} for p, sha, size in files],
        }
        partial = target.with_name(target.name + ".part")
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(data), int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(data))
            tar.add(db_copy, arcname=db_name)
            for path, _sha, _size in files:
                tar.add(path, arcname=f"uploads/{path.name}")
        partial.replace(target)
    return ArchiveSummary(target, manifest["tables"], len(files), sum(size for _p, _s, size in files))


def _upload_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.iterdir()) if p.is_file() and FILE_RE.fullmatch(p.name)]


def is_archive(path: Path) -> bool:
    """True for an archive made by `create` (False for an old plain database backup)."""
    if not tarfile.is_tarfile(path):
        return False
    with tarfile.open(path, "r:*") as tar:
        return MANIFEST in tar.getnames()


def _read_manifest(tar: tarfile.TarFile) -> dict:
    member = tar.extractfile(MANIFEST)
    if member is None:
        raise BackupError("the archive has no manifest")
    manifest = json.loads(member.read().decode())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown archive format {manifest.get('format')!r}")
    return manifest


def _extract_checked(tar: tarfile.TarFile, manifest: dict, into: Path) -> tuple[Path, Path]:
    """Extract the database and the files into `into`, each checked against the manifest; nothing else."""
    expected = {f"uploads/{f['name']}": f["sha256"] for f in manifest["files"]}
    if not all(FILE_RE.fullmatch(name.removeprefix("uploads/")) for name in expected):
        raise BackupError("the manifest names a file that is not an uploaded file")
    expected[manifest["database_file"]] = manifest["database_sha256"]
    if manifest["database_file"] not in ("database.db", "database.dump"):
        raise BackupError("the manifest names an unknown database file")
    files_dir = into / "uploads"
    files_dir.mkdir()
    for name, sha in expected.items():
        try:
            member = tar.getmember(name)
        except KeyError as exc:
            raise BackupError(f"{name} is missing from the archive") from exc
        source = tar.extractfile(member) if member.isfile() else None
        if source is None:
            raise BackupError(f"{name} is not a regular file in the archive")
        out = into / name
        digest = hashlib.sha256()
        with out.open("wb") as fh:
            while block := source.read(1 << 20):
                digest.update(block)
                fh.write(block)
        if digest.hexdigest() != sha:
            raise BackupError(f"{name} does not match its checksum in the manifest")
    return into / manifest["database_file"], files_dir


def restore_archive(engine: Engine, uploads: Path, source: Path) -> ArchiveSummary:
    """Put the database and the uploaded files back from an archive; a damaged archive changes nothing."""
    work_parent = uploads.parent
    work_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_parent) as tmp:
        try:
            with tarfile.open(source, "r:*") as tar:
                manifest = _read_manifest(tar)
                if manifest["database"] != engine.dialect.name:
                    raise BackupError(
                        f"the archive holds a {manifest['database']} database, not {engine.dialect.name}")
                db_copy, files_dir = _extract_checked(tar, manifest, Path(tmp))
        except (tarfile.TarError, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"{source} is damaged ({exc}); nothing was changed") from exc
        restore(engine, db_copy)
        # Swap the folder in whole: the old content moves aside and is deleted only once the new one is in place.
        old = Path(tmp) / "previous-uploads"
        if uploads.exists():
            uploads.replace(old)
        shutil.move(str(files_dir), str(uploads))
    sizes = sum(f["size"] for f in manifest["files"])
    return ArchiveSummary(source, manifest["tables"], len(manifest["files"]), sizes)
