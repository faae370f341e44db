"""The hand-written gzip layer gridmap used until flask-compress replaced it (webmap/compression.py); kept as
the baseline of bench/compression.py.

Flask sends bodies as they are; gunicorn and waitress do not compress either. The map's first
view is mostly text (Leaflet, our JS and CSS, GeoJSON), which gzip shrinks 3–7×, so every
text response of at least ``MIN_SIZE`` bytes is gzipped when the client accepts gzip. Already
encoded, partial (206), empty (204/304) and streamed responses of unknown length pass through
untouched, as does anything marked ``Cache-Control: no-transform``.

Files from ``/static/vendor`` (Leaflet, jQuery, Swagger UI: installed from the lockfile, changed
only by an upgrade) may be kept by the browser for ``VENDOR_MAX_AGE`` seconds without asking
again; our own static files keep Flask's default (revalidate with the ETag every time).
"""

from __future__ import annotations

import gzip

from flask import Flask, Response, request

__all__ = ["COMPRESSIBLE", "MIN_SIZE", "VENDOR_MAX_AGE", "init_app"]

#: Below this a gzip header and the CPU cost more than they save.
MIN_SIZE = 1024
#: zlib level: 4 compresses Leaflet to within 5 % of level 6 in under half the time.
LEVEL = 4
#: File responses (send_file) larger than this are left as they are rather than read into memory.
MAX_FILE_SIZE = 8 * 1024 * 1024
#: One day: long enough that a day's work never fetches Leaflet twice, short enough that an
#: upgrade (same URLs) reaches every browser by the next morning.
VENDOR_MAX_AGE = 24 * 3600
VENDOR_PREFIX = "/static/vendor/"
COMPRESSIBLE = frozenset({
    "text/html", "text/css", "text/javascript", "text/plain", "text/csv", "text/xml",
    "application/javascript", "application/json", "application/geo+json", "application/xml",
    "image/svg+xml",
})
#: Statuses whose body must not be re-encoded: no content, partial content, not modified.
_PASS_STATUSES = frozenset({204, 206, 304})


def init_app(app: Flask) -> None:
    """Register the gzip and caching step on every response of ``app``."""
    app.after_request(_transfer)


def _transfer(response: Response) -> Response:
    if request.path.startswith(VENDOR_PREFIX) and response.status_code in (200, 304):
        response.cache_control.public = True
        response.cache_control.max_age = VENDOR_MAX_AGE
        response.cache_control.no_cache = None
    if not _compressible(response):
        return response
    response.vary.add("Accept-Encoding")
    if request.accept_encodings.quality("gzip") <= 0 or not _may_encode(response):
        return response
    if response.direct_passthrough:  # a file from send_file: read it (size checked above)
        response.direct_passthrough = False
    data = response.get_data()
    if len(data) < MIN_SIZE:
        return response
    response.set_data(gzip.compress(data, compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag and not weak:  # the bytes differ from the identity body now: only weakly the same
        response.set_etag(etag, weak=True)
    return response


def _compressible(response: Response) -> bool:
    return response.mimetype in COMPRESSIBLE and response.status_code not in _PASS_STATUSES


def _may_encode(response: Response) -> bool:
    if "Content-Encoding" in response.headers or response.cache_control.no_transform:
        return False
    if response.is_streamed:
        # A generator of unknown length is meant to stream; a file of known size can be read.
        length = response.content_length
        return response.direct_passthrough and length is not None and MIN_SIZE <= length <= MAX_FILE_SIZE
    return True
