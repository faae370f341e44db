"""How responses travel: compressed by flask-compress, and a day of browser caching for vendored assets.

Flask sends bodies as they are; gunicorn and waitress do not compress either. The map's first
view is mostly text (Leaflet, our JS and CSS, GeoJSON), which compression shrinks 3–25×, so every
text response of at least ``MIN_SIZE`` bytes is compressed with the best algorithm the client
accepts: zstd, then brotli, then gzip (deflate before gzip for a streamed body, such as a static file). A
browser over plain HTTP (an intranet) offers gzip and deflate; over HTTPS also brotli and zstd,
which ``bench/compression.py`` measured 4–15× faster than gzip on a map layer and 30–45 %
smaller. Already encoded, partial (206), empty (204/304) responses pass through untouched, as does
anything marked ``Cache-Control: no-transform``; a strong ETag gets the algorithm appended, so a
cache never mixes the encodings.

Files from ``/static/vendor`` (Leaflet, jQuery, Swagger UI: installed from the lockfile, changed
only by an upgrade) may be kept by the browser for ``VENDOR_MAX_AGE`` seconds without asking
again; our own static files keep Flask's default (revalidate with the ETag every time).
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_compress import Compress

__all__ = ["COMPRESSIBLE", "MIN_SIZE", "VENDOR_MAX_AGE", "init_app"]

#: Below this the encoding's framing and the CPU cost more than they save.
MIN_SIZE = 1024
#: zlib level (gzip, deflate): 4 compresses Leaflet to within 5 % of level 6 in under half the time.
LEVEL = 4
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


class _Compress(Compress):
    """flask-compress, leaving alone what must reach the client byte for byte: a range (206) and a
    body marked no-transform (RFC 9111); and refusing an encoding the client ruled out with
    ``q=0`` (flask-compress 1.25 falls back to it when nothing else matches)."""

    def after_request(self, response: Response | None) -> Response:
        if response is not None and (response.status_code in _PASS_STATUSES or response.cache_control.no_transform):
            return response
        if response is not None and not any(request.accept_encodings.quality(a) > 0 for a in self.enabled_algorithms):
            if response.mimetype in COMPRESSIBLE:
                response.vary.add("Accept-Encoding")
            return response
        return super().after_request(response)


def init_app(app: Flask) -> None:
    """Register compression and vendor caching on every response of ``app``."""
    for key, value in {"COMPRESS_MIMETYPES": sorted(COMPRESSIBLE), "COMPRESS_MIN_SIZE": MIN_SIZE,
                       "COMPRESS_LEVEL": LEVEL, "COMPRESS_DEFLATE_LEVEL": LEVEL,
                       # flask-compress streams (static files) in zstd, br or deflate only; a client that
                       # offers gzip alone (some HTTP libraries, our benches) would get Leaflet uncompressed.
                       "COMPRESS_ALGORITHM_STREAMING": ["zstd", "br", "deflate", "gzip"]}.items():
        app.config.setdefault(key, value)
    app.after_request(_cache_vendor)
    _Compress(app)


def _cache_vendor(response: Response) -> Response:
    if request.path.startswith(VENDOR_PREFIX) and response.status_code in (200, 304):
        response.cache_control.public = True
        response.cache_control.max_age = VENDOR_MAX_AGE
        response.cache_control.no_cache = None
    return response
