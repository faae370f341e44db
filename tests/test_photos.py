"""Case photos: only JPEG/PNG, at most the configured size, EXIF (GPS) removed, stored, served to
those who may see the case, audited; a refused upload stores nothing."""

import hashlib
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import text

from geo.domain.errors import InvalidInput, TooLarge
from geo.domain.photos import MAX_EDGE, clean_photo

EAST = {"lon": 116.3175, "lat": 39.9025}  # grid 110101002001002, street 110101002
MB = 1024 * 1024


def jpeg_with_gps(size=(64, 48), orientation=None) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x013B] = "张三"  # Artist
    gps = {1: "N", 2: (39.0, 54.0, 9.0), 3: "E", 4: (116.0, 19.0, 3.0)}
    exif[0x8825] = gps
    if orientation:
        exif[0x0112] = orientation
    buf = BytesIO()
    image.save(buf, "JPEG", exif=exif, comment=b"secret comment")
    return buf.getvalue()


def png_with_text() -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "张三")
    info.add_text("GPS", "39.9,116.3")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    buf = BytesIO()
    Image.new("RGBA", (30, 20), (0, 128, 0, 128)).save(buf, "PNG", pnginfo=info, exif=exif)
    return buf.getvalue()


# --- the pure cleaner -------------------------------------------------------------------------


def test_jpeg_loses_exif_gps_and_comment_but_keeps_pixels():
    raw = jpeg_with_gps()
    assert b"PhoneMaker" in raw and b"secret comment" in raw
    photo = clean_photo(raw, max_bytes=MB)
    assert photo.content_type == "image/jpeg"
    assert (photo.width, photo.height) == (64, 48)
    assert b"PhoneMaker" not in photo.data and b"secret comment" not in photo.data and b"Exif" not in photo.data
    again = Image.open(BytesIO(photo.data))
    assert not again.getexif()
    r, g, b = again.convert("RGB").getpixel((32, 24))
    assert abs(r - 200) < 10 and g < 50 and b < 50
    assert photo.sha256 == hashlib.sha256(photo.data).hexdigest()


def test_exif_orientation_is_applied_before_it_is_dropped():
    photo = clean_photo(jpeg_with_gps(size=(60, 20), orientation=6), max_bytes=MB)  # 6: rotate 90° clockwise
    assert (photo.width, photo.height) == (20, 60)


def test_png_loses_text_chunks_and_keeps_transparency():
    raw = png_with_text()
    assert b"Author" in raw and b"eXIf" in raw
    photo = clean_photo(raw, max_bytes=MB)
    assert photo.content_type == "image/png"
    assert b"Author" not in photo.data and b"GPS" not in photo.data
    assert b"eXIf" not in photo.data and b"PhoneMaker" not in photo.data
    again = Image.open(BytesIO(photo.data))
    assert again.mode == "RGBA" and again.getpixel((5, 5))[3] == 128


@pytest.mark.parametrize("data, code", [
    (b"GIF89a" + b"\0" * 100, "photo_type"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "photo_type"),
    (b"%PDF-1.4 not a picture", "photo_type"),
    (b"\xff\xd8\xff\xe0 truncated jpeg", "photo_unreadable"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "photo_unreadable"),
])
def test_anything_but_a_readable_jpeg_or_png_is_refused(data, code):
    with pytest.raises(InvalidInput) as err:
        clean_photo(data, max_bytes=MB)
    assert err.value.code == code and err.value.field == "photo"


def test_too_large_is_refused_with_the_limit_named():
    with pytest.raises(TooLarge) as err:
        clean_photo(jpeg_with_gps(), max_bytes=100)
    assert err.value.status == 413 and "每张最多" in err.value.message


def test_huge_pictures_are_scaled_down():
    buf = BytesIO()
    Image.new("L", (MAX_EDGE * 2, 10)).save(buf, "PNG")
    photo = clean_photo(buf.getvalue(), max_bytes=MB)
    assert photo.width == MAX_EDGE and photo.height <= 10


def test_a_small_png_with_huge_dimensions_is_refused_before_it_is_decoded():
    """A decompression bomb: 7000 × 6000 of one colour is a few hundred kB on the wire and a
    gigabyte and seconds of CPU once decoded. It is refused from its header, fast."""
    import time

    buf = BytesIO()
    Image.new("L", (7000, 6000)).save(buf, "PNG")
    assert len(buf.getvalue()) < MB
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as err:
        clean_photo(buf.getvalue(), max_bytes=5 * MB)
    assert err.value.code == "photo_pixels" and time.perf_counter() - started < 0.5


# --- through the API --------------------------------------------------------------------------


@pytest.fixture
def case_id(client_as, routed):
    worker = client_as("grid_worker", "110101002001002")
    created = worker.post("/api/cases", json={**EAST, "category": "0101", "description": "井盖缺失"})
    assert created.status_code == 201
    return created.get_json()["id"]


def upload(client, case_id, *files):
    data = {"photo": [(BytesIO(content), name) for name, content in files]}
    return client.post(f"/api/cases/{case_id}/photos", data=data, content_type="multipart/form-data")


def photo_rows(session):
    return session.execute(text("SELECT count(*) FROM case_photo")).scalar_one()


def test_upload_list_and_serve_without_exif(client_as, case_id, session):
    worker = client_as("grid_worker", "110101002001002")
    resp = upload(worker, case_id, ("a.jpg", jpeg_with_gps()), ("b.png", png_with_text()))
    assert resp.status_code == 201, resp.get_json()
    photos = resp.get_json()["photos"]
    assert [p["content_type"] for p in photos] == ["image/jpeg", "image/png"]
    served = worker.get(photos[0]["url"])
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert b"PhoneMaker" not in served.data and hashlib.sha256(served.data).hexdigest() == photos[0]["sha256"]
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    listed = worker.get(f"/api/cases/{case_id}/photos").get_json()["photos"]
    assert [p["id"] for p in listed] == [p["id"] for p in photos]
    detail = worker.get(f"/api/cases/{case_id}").get_json()["properties"]
    assert [p["url"] for p in detail["photos"]] == [p["url"] for p in photos]
    events = worker.get(f"/api/cases/{case_id}/events").get_json()["events"]
    assert [e["details"]["photo_id"] for e in events if e["action"] == "photo"] == [p["id"] for p in photos]


def test_one_bad_file_stores_none_of_the_upload(client_as, case_id, session):
    worker = client_as("grid_worker", "110101002001002")
    before = photo_rows(session)
    resp = upload(worker, case_id, ("good.jpg", jpeg_with_gps()), ("evil.gif", b"GIF89a" + b"\0" * 50))
    assert resp.status_code == 422
    assert resp.get_json()["error"]["field"] == "photo"
    assert photo_rows(session) == before


def test_photo_over_the_limit_is_413_and_stores_nothing(app, client_as, case_id, session):
    app.config["GRIDMAP_PHOTO_MAX_MB"] = 0.001  # ≈ 1 KB
    worker = client_as("grid_worker", "110101002001002")
    big = BytesIO()
    Image.effect_noise((200, 200), 60).convert("RGB").save(big, "JPEG", quality=95)
    resp = upload(worker, case_id, ("big.jpg", big.getvalue()))
    assert resp.status_code == 413
    assert photo_rows(session) == 0


def test_upload_without_a_file_names_the_field(client_as, case_id):
    resp = client_as("grid_worker", "110101002001002").post(f"/api/cases/{case_id}/photos", data={},
                                                            content_type="multipart/form-data")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "photo"


def test_who_may_add_and_see_photos(client_as, case_id, session):
    leader = client_as("street_leader", "110101002")
    stored = upload(leader, case_id, ("a.jpg", jpeg_with_gps())).get_json()["photos"][0]
    other_worker = client_as("grid_worker", "110101001001001")
    assert upload(other_worker, case_id, ("a.jpg", jpeg_with_gps())).status_code == 404
    assert other_worker.get(stored["url"]).status_code == 404
    planner = client_as("planner")
    assert upload(planner, case_id, ("a.jpg", jpeg_with_gps())).status_code == 403
    assert planner.get(stored["url"]).status_code == 200
    unrelated_dept = client_as("department_staff", department="GA")
    assert unrelated_dept.get(stored["url"]).status_code == 404
    assert photo_rows(session) == 1


def test_photos_per_case_limit(app, client_as, case_id, session):
    app.config["GRIDMAP_PHOTOS_PER_CASE"] = 2
    worker = client_as("grid_worker", "110101002001002")
    assert upload(worker, case_id, ("a.jpg", jpeg_with_gps()), ("b.jpg", jpeg_with_gps())).status_code == 201
    resp = upload(worker, case_id, ("c.jpg", jpeg_with_gps()))
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "too_many"
    assert photo_rows(session) == 2


def test_anonymous_upload_is_refused(app, case_id, session):
    resp = upload(app.test_client(), case_id, ("a.jpg", jpeg_with_gps()))
    assert resp.status_code in (401, 403)
    assert photo_rows(session) == 0
