"""The dashboard application: ``create_app(settings)`` gives the FastAPI app ``dqm serve`` runs."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from heplearn import __version__
from heplearn.dqm.dashboard import api, pages, queries
from heplearn.dqm.dashboard.mapdata import MODEL_CACHE_ENTRIES, LruCache, MapStore
from heplearn.dqm.dashboard.security import guard
from heplearn.dqm.dashboard.settings import Settings
from heplearn.errors import HeplearnError

__all__ = ["STATIC", "create_app"]

STATIC = Path(__file__).parent / "static"
#: Summaries kept (one per run page and state of the history).
SUMMARY_ENTRIES = 256

DESCRIPTION = """The JSON behind every view of the heplearn DQM dashboard: runs, a run's
lumisections, a map with its expectation, pulls and flags, a channel across lumisections,
certification and its audit list, and the CMS good-lumisection JSON.

With a token, send `Authorization: Bearer TOKEN`. POST requests made with cookies need the
`X-CSRF-Token` header equal to the `heplearn_csrf` cookie (`GET /api/csrf` sets and returns it).
"""


def _history_error(_request: Request, err: Exception) -> Response:
    """A history that cannot be read or written now: 503 with the reason, never a 500."""
    reason = err.message if isinstance(err, HeplearnError) else str(err)
    return PlainTextResponse(f"the history cannot be used now: {reason}", status_code=503)


def _warm(app: FastAPI) -> None:
    """Load the model runs of the latest verdicts before the first request needs them."""
    try:
        with queries.reading(app.state.settings.history) as db:
            rows = db.execute(
                "SELECT DISTINCT model_run FROM verdicts WHERE id > (SELECT MAX(id) FROM verdicts)"
                " - 1000 LIMIT ?",
                (MODEL_CACHE_ENTRIES,),
            ).fetchall()
    except sqlite3.Error:
        return  # the requests will say what is wrong with the history
    for (model_run,) in rows:
        app.state.maps.model(model_run)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    await run_in_threadpool(_warm, app)
    yield


def create_app(settings: Settings) -> FastAPI:
    """The dashboard of ``settings.history`` (checked to be a history by the caller)."""
    app = FastAPI(
        lifespan=_lifespan,
        title="heplearn DQM dashboard",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served from the package's own files: see pages.docs
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.maps = MapStore(settings.maps, settings.dataset)
    app.state.summaries = LruCache(SUMMARY_ENTRIES)  # runs table, run pages, golden JSON
    app.middleware("http")(guard(settings))
    app.add_exception_handler(sqlite3.Error, _history_error)
    app.add_exception_handler(HeplearnError, _history_error)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
