"""Response security headers, through Flask-Talisman.

- **Content-Security-Policy**: scripts only from this server or carrying the request's nonce (no
  inline event handlers, no ``eval``); folium's inline scripts and Swagger UI's get the nonce;
  images from here, ``data:``/``blob:`` (markers, photo previews) and the configured base tiles'
  origin; ``frame-ancestors 'none'``, ``form-action 'self'``, ``object-src 'none'``. Styles keep
  ``'unsafe-inline'``: Leaflet and folium position everything with style attributes.
- ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``,
  a Permissions-Policy that allows the position and camera to this origin only; HSTS only when
  ``GRIDMAP_SECURE_COOKIES`` says the site is served over HTTPS.
- **Cache-Control: no-store** on every data response (JSON, GeoJSON, XML, CSV, spreadsheets,
  packages) that did not choose its own caching: a shared or back-button cache never keeps a
  signed-in user's cases.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_talisman import Talisman

__all__ = ["basemap_origins", "init_app", "own_policy", "policy", "with_nonce"]

#: Only its per-view decorator is used (it marks the view); each app gets its own instance.
_views = Talisman()

#: Responses that carry data rather than a page or an asset.
DATA_TYPES = ("application/json", "application/geo+json", "application/xml", "text/xml", "text/csv",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              "application/geopackage+sqlite3", "application/x-sqlite3", "application/zip")

_KNOWN_BASEMAPS = {
    "osm": ["https://tile.openstreetmap.org"],
    "tianditu": ["https://*.tianditu.gov.cn"],
}


def basemap_origins(basemap: str) -> list[str]:
    """Where the configured base tiles come from, as CSP sources: GRIDMAP_BASEMAP is a comma-separated
    list ('none' and .mbtiles files served here add nothing).

    >>> basemap_origins("https://{s}.tiles.example.cn:8443/{z}/{x}/{y}.png,/srv/beijing.mbtiles,osm")
    ['https://*.tiles.example.cn:8443', 'https://tile.openstreetmap.org']
    """
    origins: list[str] = []
    for one in (basemap or "none").split(","):
        origins += [o for o in _origins_of(one) if o not in origins]
    return origins


def _origins_of(basemap: str) -> list[str]:
    kind = basemap.strip()
    if kind.lower() in _KNOWN_BASEMAPS:
        return _KNOWN_BASEMAPS[kind.lower()]
    parts = urlsplit(kind)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return []
    host = re.sub(r"\{[^}]*\}", "*", parts.netloc)
    if "*" in host and not (host.startswith("*.") and "*" not in host[2:]):
        return [f"{parts.scheme}:"]  # CSP wildcards cover a whole leading label only: the scheme then
    return [f"{parts.scheme}://{host}"]


def policy(basemap: str) -> dict[str, Any]:
    return {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *basemap_origins(basemap)],
        "connect-src": "'self'",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }


_SCRIPT_TAG = re.compile(r"<script(?=[\s>])")


def with_nonce(html: str, nonce: str) -> str:
    """Give every ``<script`` tag of generated markup (folium's) the request's nonce."""
    return _SCRIPT_TAG.sub(f'<script nonce="{nonce}"', html)


def _no_store(response: Response) -> Response:
    if response.mimetype in DATA_TYPES and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    secure = bool(app.config.get("GRIDMAP_SECURE_COOKIES"))
    app.extensions["talisman"] = Talisman(
        app,
        force_https=False,  # TLS ends at the reverse proxy, which redirects; health probes use plain HTTP
        strict_transport_security=secure,
        session_cookie_secure=secure,
        frame_options="DENY",
        content_security_policy=policy(str(app.config.get("GRIDMAP_BASEMAP") or "none")),
        content_security_policy_nonce_in=["script-src"],
        referrer_policy="same-origin",
        permissions_policy={"geolocation": "(self)", "camera": "(self)", "microphone": "()",
                            "browsing-topics": "()"},
    )
    app.after_request(_no_store)
    app.jinja_env.globals["nonced"] = lambda html: with_nonce(html, csp_nonce())


def csp_nonce() -> str:
    return str(getattr(request, "csp_nonce", ""))


def own_policy(csp: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view that sends a stricter policy of its own (a photo: ``default-src 'none'``)."""
    return _views(content_security_policy=csp, content_security_policy_nonce_in=[])
