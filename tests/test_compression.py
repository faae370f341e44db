"""webmap.compression: text responses compressed (zstd, brotli, gzip, deflate) as the client accepts;
the rest untouched."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest
from backports import zstd
from flask import Flask, Response, send_file
from flask.testing import FlaskClient

from webmap import compression

GZIP = {"Accept-Encoding": "gzip, deflate, br"}
#: What a browser offers over plain HTTP (an intranet without TLS): no brotli, no zstd.
HTTP_BROWSER = {"Accept-Encoding": "gzip, deflate"}
#: A JSON body well over MIN_SIZE and compressible, like a map layer.
FEATURES = {"type": "FeatureCollection",
            "features": [{"type": "Feature", "id": f"110102-20261128-{i:06d}",
                          "geometry": {"type": "Point", "coordinates": [116.3 + i / 1e4, 39.9]},
                          "properties": {"status": "received", "category_name": "暴露垃圾"}} for i in range(100)]}
BODY = json.dumps(FEATURES, ensure_ascii=False).encode()
#: A PNG-like binary body (already compressed formats gain nothing from gzip).
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def web(tmp_path: Path) -> Iterator[FlaskClient]:
    """A bare Flask app with only the compression layer, and routes for each kind of response."""
    static = tmp_path / "static"
    (static / "vendor" / "lib").mkdir(parents=True)
    (static / "vendor" / "lib" / "lib.js").write_text("function f(){return 1;}\n" * 200)
    (static / "app.js").write_text("var x = 1;\n" * 300)
    app = Flask(__name__, static_folder=str(static))
    compression.init_app(app)

    @app.get("/body/<kind>")
    def body(kind: str) -> Response:
        mimetypes = {"json": "application/json", "geojson": "application/geo+json", "html": "text/html",
                     "css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}
        return Response(BODY, mimetype=mimetypes[kind])

    @app.get("/small")
    def small() -> Response:
        return Response(b'{"status": "ok"}', mimetype="application/json")

    @app.get("/binary/<mimetype>")
    def binary(mimetype: str) -> Response:
        return Response(PNG * 4, mimetype=mimetype.replace("_", "/"))

    @app.get("/encoded")
    def encoded() -> Response:
        response = Response(gzip.compress(BODY), mimetype="application/json")
        response.headers["Content-Encoding"] = "gzip"
        return response

    @app.get("/stream")
    def stream() -> Response:
        return Response((BODY[i:i + 500] for i in range(0, len(BODY), 500)), mimetype="text/csv")

    @app.get("/no-transform")
    def no_transform() -> Response:
        response = Response(BODY, mimetype="application/json")
        response.cache_control.no_transform = True
        return response

    @app.get("/partial")
    def partial() -> Response:
        return Response(BODY[:2000], status=206, mimetype="application/json")

    @app.get("/file")
    def file() -> Response:
        return send_file(static / "app.js", mimetype="text/javascript", etag=True)

    yield app.test_client()


def decode(response) -> bytes:
    """The body as the client reads it, whatever encoding was chosen."""
    data = b"".join(response.response) if response.is_streamed else response.data
    encoding = response.headers.get("Content-Encoding", "identity")
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    if encoding == "br":
        return brotli.decompress(data)
    if encoding == "zstd":
        return zstd.decompress(data)
    return data


@pytest.mark.parametrize("kind", ["json", "geojson", "html", "css", "js", "svg"])
def test_text_is_gzipped_for_a_plain_http_browser_and_decodes_to_the_same_bytes(web, kind):
    response = web.get(f"/body/{kind}", headers=HTTP_BROWSER)
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data) == BODY
    assert len(response.data) < len(BODY) / 3
    assert response.headers["Content-Length"] == str(len(response.data))


@pytest.mark.parametrize(("accept", "chosen"), [("gzip, deflate, br", "br"), ("gzip, deflate, br, zstd", "zstd"),
                                                ("br;q=0.5, gzip", "gzip"), ("deflate", "deflate")])
def test_the_best_encoding_the_client_accepts_is_chosen(web, accept, chosen):
    response = web.get("/body/geojson", headers={"Accept-Encoding": accept})
    assert response.headers["Content-Encoding"] == chosen
    assert decode(response) == BODY


def test_brotli_and_zstd_are_smaller_than_gzip_on_a_map_layer(web):
    sizes = {a: len(web.get("/body/geojson", headers={"Accept-Encoding": a}).data) for a in ("gzip", "br", "zstd")}
    assert sizes["br"] < sizes["gzip"] and sizes["zstd"] < sizes["gzip"]


def test_compressed_response_varies_on_accept_encoding(web):
    assert "Accept-Encoding" in web.get("/body/json", headers=GZIP).headers["Vary"]


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0"])
def test_not_compressed_when_the_client_does_not_accept_it(web, accept):
    response = web.get("/body/json", headers={"Accept-Encoding": accept} if accept else {})
    assert "Content-Encoding" not in response.headers
    assert response.data == BODY
    # A cache in between must not hand this identity body to a client that asked for gzip (or back).
    assert "Accept-Encoding" in response.headers["Vary"]


def test_small_body_is_sent_as_it_is(web):
    response = web.get("/small", headers=GZIP)
    assert "Content-Encoding" not in response.headers
    assert response.data == b'{"status": "ok"}'


@pytest.mark.parametrize("mimetype", ["image_png", "application_octet-stream", "application_pdf"])
def test_binary_is_sent_as_it_is(web, mimetype):
    response = web.get(f"/binary/{mimetype}", headers=GZIP)
    assert "Content-Encoding" not in response.headers
    assert response.data == PNG * 4


def test_already_encoded_response_is_not_encoded_twice(web):
    response = web.get("/encoded", headers=GZIP)
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data) == BODY


def test_streamed_response_keeps_streaming_and_decodes_to_the_same_bytes(web):
    response = web.get("/stream", headers=GZIP, buffered=False)
    assert response.is_streamed and "Content-Length" not in response.headers
    assert response.headers["Content-Encoding"] in ("br", "zstd", "deflate")
    assert decode(response) == BODY


def test_no_transform_is_respected(web):
    response = web.get("/no-transform", headers=GZIP)
    assert "Content-Encoding" not in response.headers
    assert response.data == BODY


def test_partial_content_is_not_re_encoded(web):
    response = web.get("/partial", headers=GZIP)
    assert response.status_code == 206
    assert "Content-Encoding" not in response.headers
    assert response.data == BODY[:2000]


def test_static_file_is_compressed_with_an_etag_of_its_encoding_that_still_revalidates(web, tmp_path):
    response = web.get("/static/app.js", headers=HTTP_BROWSER)
    assert response.headers["Content-Encoding"] == "deflate"  # streamed: gzip is not offered for streams
    assert decode(response) == (tmp_path / "static" / "app.js").read_bytes()
    etag = response.headers["ETag"]
    assert etag.endswith(':deflate"')
    again = web.get("/static/app.js", headers={**HTTP_BROWSER, "If-None-Match": etag})
    assert again.status_code == 304


def test_a_client_offering_only_gzip_gets_static_files_gzipped(web, tmp_path):
    response = web.get("/static/app.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert decode(response) == (tmp_path / "static" / "app.js").read_bytes()


def test_vendor_assets_are_cached_for_a_day(web, tmp_path):
    response = web.get("/static/vendor/lib/lib.js", headers=GZIP)
    assert response.cache_control.max_age == compression.VENDOR_MAX_AGE
    assert response.cache_control.public and not response.cache_control.no_cache
    assert decode(response) == (tmp_path / "static" / "vendor" / "lib" / "lib.js").read_bytes()


def test_own_static_files_still_revalidate_every_time(web):
    response = web.get("/static/app.js", headers=GZIP)
    assert response.cache_control.no_cache
    assert response.cache_control.max_age is None


# --- the real app (these two responses never touch the database) --------------------------------


@pytest.fixture
def anon() -> FlaskClient:
    from webmap import create_app

    app = create_app({"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/unused", "GRIDMAP_SECRET_KEY": "t"})
    return app.test_client()


def test_app_compresses_leaflet_and_caches_it(anon):
    response = anon.get("/static/vendor/leaflet/leaflet.js", headers=GZIP)
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] in ("br", "zstd", "deflate")
    assert b"Leaflet" in decode(response)[:2000]
    assert response.cache_control.max_age == compression.VENDOR_MAX_AGE


def test_app_compresses_json(anon):
    response = anon.get("/api/openapi.json", headers=HTTP_BROWSER)
    assert response.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(response.data))["info"]["title"] == "gridmap"
