"""The dashboard's pages: plain HTML filled on the server, data drawn by small scripts.

Every value written into a page is HTML-escaped; the scripts read the rest from the
JSON API and put text into the page as text (never as HTML).  No inline script: the
CSRF token travels in a ``<meta>`` tag, the page's parameters in ``data-`` attributes.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from string import Template
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from heplearn.dqm.dashboard.security import (
    TOKEN_COOKIE,
    WHO_COOKIE,
    clean_who,
    safe_next,
    same_token,
)
from heplearn.dqm.dashboard.settings import Settings

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGES = Path(__file__).parent / "pages"


@cache
def _template(name: str) -> Template:
    return Template((PAGES / name).read_text(encoding="utf-8"))


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _who(request: Request) -> str:
    return clean_who(request.cookies.get(WHO_COOKIE)) or "local"


def _page(
    request: Request,
    page: str,
    title: str,
    *,
    scripts: tuple[str, ...],
    attributes: dict[str, str | int] | None = None,
    values: dict[str, str | int] | None = None,
) -> HTMLResponse:
    settings = _settings(request)
    escaped = {k: html.escape(str(v)) for k, v in (values or {}).items()}
    body = _template(f"{page}.html").substitute(escaped)
    attrs = " ".join(
        f'data-{k}="{html.escape(str(v), quote=True)}"' for k, v in (attributes or {}).items()
    )
    tags = "\n".join(f'<script src="/static/{html.escape(s)}"></script>' for s in scripts)
    badge = '<span class="badge" id="read-only">read-only</span>' if settings.read_only else ""
    text = _template("layout.html").substitute(
        csrf=html.escape(request.state.csrf),
        title=html.escape(title),
        page=page,
        read_only="true" if settings.read_only else "false",
        poll_ms=int(settings.poll_seconds * 1000),
        attributes=attrs,
        read_only_badge=badge,
        who=html.escape(_who(request)),
        body=body,
        scripts=tags,
    )
    return HTMLResponse(text)


_PLOT = ("plotly-cartesian.min.js", "common.js")


@router.get("/", response_class=HTMLResponse)
def runs_page(request: Request) -> HTMLResponse:
    return _page(request, "runs", "Runs", scripts=("common.js", "runs.js"))


@router.get("/runs/{run}", response_class=HTMLResponse)
def run_page(request: Request, run: Annotated[int, PathParam(ge=1, le=2**31 - 1)]) -> HTMLResponse:
    return _page(
        request,
        "run",
        f"Run {run}",
        scripts=(*_PLOT, "run.js"),
        attributes={"run": run},
        values={"run": run},
    )


@router.get("/maps/{verdict_id}", response_class=HTMLResponse)
def map_page(
    request: Request, verdict_id: Annotated[int, PathParam(ge=1, le=2**62)]
) -> HTMLResponse:
    return _page(
        request,
        "map",
        f"Map {verdict_id}",
        scripts=(*_PLOT, "map.js"),
        attributes={"id": verdict_id},
    )


@router.get("/certification", response_class=HTMLResponse)
def certification_page(request: Request) -> HTMLResponse:
    return _page(
        request, "certification", "Certification", scripts=("common.js", "certification.js")
    )


def _login_page(
    request: Request, next_path: str, error: str = "", status: int = 200
) -> HTMLResponse:
    settings = _settings(request)
    token_field = (
        "<label>Token (given by whoever started the dashboard)"
        ' <input name="token" id="login-token" type="password" autocomplete="current-password">'
        "</label>"
        if settings.token is not None
        else ""
    )
    who = clean_who(request.cookies.get(WHO_COOKIE)) or ""
    text = _template("login.html").substitute(
        csrf=html.escape(request.state.csrf),
        next=html.escape(safe_next(next_path)),
        who=html.escape(who),
        error=html.escape(error),
        token_field=token_field,
    )
    return HTMLResponse(text, status_code=status)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _login_page(request, next)


#: The login form's body is a few short fields.
MAX_FORM_BYTES = 8192


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded login form's fields (first value each; the body is bounded)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items() if values}


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    form = await _form(request)
    csrf, name, token = form.get("csrf", ""), form.get("name", ""), form.get("token", "")
    next = form.get("next", "/")
    settings = _settings(request)
    if not same_token(csrf, request.state.csrf) or "heplearn_csrf" not in request.cookies:
        return _login_page(request, next, "The form expired: please enter again.", 403)
    if settings.token is not None and not same_token(token, settings.token):
        return _login_page(request, next, "Wrong token.", 401)
    who = clean_who(name) if name.strip() else None
    if name.strip() and who is None:
        return _login_page(request, next, "A name has 1-64 letters, digits, spaces or . @ ' -", 422)
    response = RedirectResponse(safe_next(next), status_code=303)
    if who is None:
        response.delete_cookie(WHO_COOKIE, path="/")
    else:
        response.set_cookie(WHO_COOKIE, who, httponly=True, samesite="strict", path="/")
    if settings.token is not None:
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


@router.post("/logout", response_model=None)
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(WHO_COOKIE, path="/")
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


@router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    """Swagger UI from the files shipped in the package (no CDN: works offline)."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="heplearn DQM dashboard API",
        swagger_js_url="/static/swagger/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )
