"""The dashboard's guards: loopback Host check, token, CSRF (double submit) and response headers.

- **Host.** Without a token the dashboard answers only requests addressed to a loopback
  name (127.0.0.1, localhost, [::1]): a web page elsewhere cannot reach it by pointing
  its own host name at 127.0.0.1 (DNS rebinding).
- **Token.** With a token every request but the login page must carry it: the
  ``Authorization: Bearer TOKEN`` or ``X-Heplearn-Token`` header (tools), or the
  ``heplearn_token`` cookie set by the login form (browsers).  A missing or wrong one
  is a 401 for the API and a redirect to the login page for a page.
- **CSRF.** Every state-changing request (POST) made with cookies must send the
  ``X-CSRF-Token`` header (or, for the login form, a ``csrf`` field) equal to the
  ``heplearn_csrf`` cookie, which the dashboard sets (HttpOnly, SameSite=Strict) and
  writes into each page; another site can neither read the cookie nor the page.  A
  POST whose Origin is another site is refused.  A tool sending its token in a header
  needs no CSRF token (a browser never adds that header by itself).
- **Headers.** A Content-Security-Policy allowing only this server's scripts (no inline
  script on the dashboard's pages), ``nosniff``, no framing, no referrer, no caching
  of API answers.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from heplearn.dqm.dashboard.settings import LOOPBACK, Settings

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "TOKEN_COOKIE",
    "WHO_COOKIE",
    "clean_who",
    "guard",
    "safe_next",
    "same_token",
]

CSRF_COOKIE = "heplearn_csrf"
CSRF_HEADER = "x-csrf-token"
TOKEN_COOKIE = "heplearn_token"
WHO_COOKIE = "heplearn_who"
TOKEN_HEADER = "x-heplearn-token"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: Paths reachable without the token: the login form itself.
_OPEN = {"/login"}
_WHO = re.compile(r"^[\w .@'-]{1,64}$", re.UNICODE)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'; object-src 'none'"
)
#: The OpenAPI page (Swagger UI) starts itself with an inline script.
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented token with the expected one."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def clean_who(name: str | None) -> str | None:
    """A shifter's name as given at login (letters, digits, space, . @ ' -), or None."""
    if name is None:
        return None
    name = " ".join(name.split())
    return name if _WHO.match(name) else None


def safe_next(target: str | None) -> str:
    """A redirect target on this server only (a path, never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    return (urlsplit(f"//{host}").hostname or "").lower()


def _header_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get(TOKEN_HEADER)


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/openapi.json"


def _denied(request: Request, status: int, detail: str) -> Response:
    if _is_api(request.url.path) or request.method != "GET":
        return JSONResponse({"detail": detail}, status_code=status)
    if status == 401:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/login?next={target}", status_code=303)
    return Response(detail, status_code=status, media_type="text/plain")


Handler = Callable[[Request], Awaitable[Response]]


def guard(settings: Settings) -> Callable[[Request, Handler], Awaitable[Response]]:
    """The HTTP middleware enforcing the module docstring's rules."""

    async def middleware(request: Request, call_next: Handler) -> Response:
        path = request.url.path
        if settings.loopback_only and _host_name(request) not in LOOPBACK:
            return Response(
                "this dashboard answers only requests to 127.0.0.1 or localhost",
                status_code=421,
                media_type="text/plain",
            )
        header_token = _header_token(request)
        by_header = False
        if settings.token is not None and path not in _OPEN:
            by_header = same_token(header_token, settings.token)
            by_cookie = same_token(request.cookies.get(TOKEN_COOKIE), settings.token)
            if not (by_header or by_cookie):
                return _denied(request, 401, "this dashboard needs its token")
        cookie = request.cookies.get(CSRF_COOKIE)
        fresh = cookie is None or len(cookie) < 32
        csrf = secrets.token_urlsafe(32) if fresh or cookie is None else cookie
        request.state.csrf = csrf
        if request.method in _UNSAFE:
            origin = request.headers.get("origin")
            host = request.headers.get("host", "").lower()
            if origin and urlsplit(origin).netloc.lower() != host:
                return _denied(request, 403, "cross-site request refused")
            # The login form checks its own field; a tool with its token in a header needs none.
            if path not in _OPEN and not by_header:
                sent = request.headers.get(CSRF_HEADER)
                if fresh or not same_token(sent, csrf):
                    return _denied(
                        request,
                        403,
                        f"missing or wrong CSRF token: send the {CSRF_COOKIE} cookie's value "
                        "in the X-CSRF-Token header (GET /api/csrf gives both)",
                    )
        response = await call_next(request)
        if fresh:
            response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/")
        response.headers["Content-Security-Policy"] = DOCS_CSP if path == "/docs" else CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if _is_api(path):
            response.headers["Cache-Control"] = "no-store"
        return response

    return middleware
