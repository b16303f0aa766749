"""Load the demo press room from content/demo/press.json (idempotent on external_id).

The demo's image (a bar chart drawn with Pillow) and PDF (a one-page table written by hand) are generated
here, so the repository ships no binary files; both go through the same upload checks as a real upload.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.markup import render_markdown
from portal.models import Conference, Department, DirectoryEntry, Incident, Release, ReleaseEdition, StaffUser
from portal.services import audit
from portal.services.press import newsroom, press_room
from portal.timeutil import parse_local, to_beijing, utcnow


def demo_chart_png() -> bytes:
    """A simple bar chart (beds in use per shelter), 1200×675, drawn with Pillow's default font."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (1200, 675), "white")
    draw = ImageDraw.Draw(img)
    draw.text((60, 30), "Shelter beds in use, 25 Nov 09:00 (demo)", fill="black")
    bars = [("Shelter A", 152, 180), ("Shelter B", 118, 150), ("Shelter C", 86, 120), ("Shelter D", 38, 60)]
    for i, (label, used, total) in enumerate(bars):
        x = 120 + i * 260
        draw.rectangle((x, 600 - total * 3, x + 160, 600), outline="#8a8a8a", fill="#e8eef6")
        draw.rectangle((x, 600 - used * 3, x + 160, 600), fill="#1f5fa8")
        draw.text((x, 610), f"{label}: {used}/{total}", fill="black")
    draw.line((100, 600, 1140, 600), fill="black", width=2)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def minimal_pdf(title: str, rows: list[tuple[str, str]]) -> bytes:
    """A valid one-page PDF 1.4 (Helvetica, ASCII text) with a correct cross-reference table."""

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    lines = ["BT", "/F1 18 Tf", "72 760 Td", f"({esc(title)}) Tj", "/F1 12 Tf"]
    for label, value in rows:
        lines += ["0 -28 Td", f"({esc(label)}: {esc(value)}) Tj"]
    lines.append("ET")
    stream = "\n".join(lines).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode() + b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _by_slug(session: Session, model, slug: str | None):
    return session.scalar(select(model).where(model.slug == slug)) if slug else None


def _release(session: Session, actor: StaffUser, item: dict, config: dict) -> Release | None:
    if session.scalar(select(Release.id).where(Release.external_id == item["external_id"])) is not None:
        return None
    at = parse_local(item["published_at"])
    department = _by_slug(session, Department, item.get("department_slug"))
    rumour = item.get("rumour", "")
    html = render_markdown(item["body"])
    # Historical times are written directly (the console refuses times in the past by design).
    release = Release(
        slug=item["slug"], type=item["type"], title=item["title"], topics=newsroom.parse_topics(item["topics"], {}),
        department=department, incident=_by_slug(session, Incident, item.get("incident_slug")),
        rumour_md=rumour, rumour_html=render_markdown(rumour), body_md=item["body"], body_html=html,
        author_id=actor.id, author_title="云溪县人民政府新闻办公室", created_at=at, publish_at=at, updated_at=at,
        edition=1, external_id=item["external_id"],
    )
    session.add(release)
    session.flush()
    session.add(ReleaseEdition(release_id=release.id, number=1, title=release.title, rumour_md=rumour,
                               body_md=item["body"], body_html=html, author_id=actor.id, created_at=at))
    audit.record(session, actor, "release.published", "release", release.id, demo=True)
    session.commit()
    folder, limit = config["UPLOAD_DIR"], int(config["UPLOAD_MAX_BYTES"])
    if item.get("image"):
        newsroom.add_attachment(session, actor, release, demo_chart_png(), "安置点床位.png", item["image"]["caption"],
                             folder, limit, int(config["UPLOAD_RENDITION_PX"]))
    if item.get("pdf"):
        pdf = minimal_pdf(item["pdf"]["title"], [
            ("Evacuated", "1,236 people"), ("With relatives", "842"), ("In shelters", "394"),
            ("Embankments repaired (temporary)", "3"), ("Water mains repaired", "2"),
        ])
        newsroom.add_attachment(session, actor, release, pdf, item["pdf"]["filename"], "", folder, limit)
    release.updated_at = at
    session.commit()
    return release


def load_demo_press(session: Session, path: Path, actor: StaffUser, admin: StaffUser | None, config) -> list[str]:
    """Create the demo releases, the upcoming conference and the directory once; returns what was created."""
    data = json.loads(path.read_text(encoding="utf-8"))
    created = []
    for item in data.get("releases", []):
        if _release(session, actor, item, config) is not None:
            created.append(f"稿件 /news/{item['slug']}")
    conf = data.get("conference")
    if conf and session.scalar(select(Conference.id).where(Conference.external_id == conf["external_id"])) is None:
        day = to_beijing(utcnow()) + timedelta(days=int(conf["starts_in_days"]))
        starts = f"{day:%Y-%m-%d} {conf['starts_at_time']}"
        press_room.create_conference(session, actor, press_room.ConferenceInput(
            title=conf["title"], starts_at=starts, place=conf["place"],
            duration_minutes=int(conf["duration_minutes"]), livestream_url=conf.get("livestream_url", ""),
            spokesperson=conf.get("spokesperson", ""), description=conf.get("description", ""),
            incident_slug=conf.get("incident_slug", ""), release_slug=conf.get("release_slug", ""),
            external_id=conf["external_id"],
        ))
        created.append("新闻发布会 1 场")
    if admin is not None and not session.scalar(select(DirectoryEntry.id).limit(1)):
        for row in data.get("directory", []):
            department = _by_slug(session, Department, row["department_slug"])
            if department is None:
                continue
            press_room.save_directory_entry(session, admin, press_room.DirectoryInput(
                department_id=department.id, name=row["name"], role=row["role"], office_phone=row["office_phone"],
                duty_hours=row.get("duty_hours", ""),
            ))
            created.append(f"名录 {row['name']}")
    return created
