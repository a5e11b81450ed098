"""The JSON API behind every view of the dashboard (documented at /docs).

Ids in paths are integers checked by range (422 otherwise); a run, verdict or map that is
not there is a 404 with the reason; a history that cannot be read right now (moved,
locked for longer than the timeout) is a 503.  Nothing here takes a path from the
request: maps are found through the verdict id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from heplearn.dqm import history as history_module
from heplearn.dqm.certify import MAX_RANGE, golden_json, merge_ranges
from heplearn.dqm.dashboard import queries
from heplearn.dqm.dashboard.mapdata import MapStore, MapUnavailableError
from heplearn.dqm.dashboard.security import WHO_COOKIE, clean_who
from heplearn.dqm.dashboard.settings import Settings

__all__ = ["MAX_CHANNEL_SPAN", "router"]

router = APIRouter(prefix="/api")

#: The most lumisections one channel-history request covers.
MAX_CHANNEL_SPAN = 2000
_INT = 2**31 - 1
RunNumber = Annotated[int, Path(ge=1, le=_INT, description="CMS run number")]
Id = Annotated[int, Path(ge=1, le=2**62, description="verdict id (from /api/runs/{run})")]


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _store(request: Request) -> MapStore:
    return request.app.state.maps  # type: ignore[no-any-return]


def _summary(request: Request, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    """``compute()`` once per state of the history: the history only grows, so its last
    verdict and override ids name its content, and a summary made for them stays true."""
    cache = request.app.state.summaries
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.put(key, found)
    return found


class Changes(BaseModel):
    last_verdict: int
    last_override: int


@router.get("/changes", response_model=Changes, summary="Last verdict and override ids")
def changes(request: Request) -> dict[str, int]:
    """Poll this (cheap): a page refreshes its data when either id moves."""
    with queries.reading(_settings(request).history) as db:
        return queries.changes(db)


@router.get("/runs", summary="Runs, newest first, with lumisections counted by verdict")
def runs(request: Request) -> dict[str, Any]:
    """Each run: lumisections checked (latest verdict of each), good / flagged (dead, hot,
    noisy, partial) / unreadable / no-statistics, unplaced verdicts (no lumisection),
    lumisections certified good after overrides, overrides and the last check time."""
    with queries.reading(_settings(request).history) as db:
        state = queries.changes(db)
        key = ("runs", *state.values())
        return {"runs": _summary(request, key, lambda: queries.runs_summary(db)), "changes": state}


@router.get("/runs/{run}", summary="One run: its lumisections and certification")
def run(request: Request, run: RunNumber) -> dict[str, Any]:
    """Lumisections in order with the latest verdict (id → /api/maps/{id}), score, groups,
    flagged-channel count, how often checked, certification (good/bad after overrides)
    and the override deciding it; unplaced verdicts; the run's good ranges and audit."""
    with queries.reading(_settings(request).history) as db:
        state = queries.changes(db)
        found = _summary(
            request, ("run", run, *state.values()), lambda: queries.run_detail(db, run)
        )
    if found is None:
        raise HTTPException(404, f"run {run} is not in the history")
    return {**found, "changes": state}


@router.get("/maps/{verdict_id}", summary="One map: counts, expectation, pulls and flags")
def map_view(
    request: Request,
    verdict_id: Id,
    depth: Annotated[int | None, Query(ge=0, le=1024, description="one depth only")] = None,
) -> Response:
    """The occupancy map a verdict was made on, read from the file the history recorded.

    ``layers`` hold ``counts`` and, when the verdict's model run gives an expectation,
    ``expected``, ``pull``, ``ratio`` (counts / expected) and ``reference`` (the reference
    maps' sum scaled to this map), each as ``[depth][row][col]`` for the ``depths``
    listed; ``live`` marks channels the reference saw.  ``flagged`` are ``[row, col]`` or
    ``[row, col, depth]``; ``outlines`` trace the failing groups' borders per depth as
    ``[x0, y0, x1, y1]`` segments (x = column, y = row).  404: file gone; 409: file
    changed or unreadable."""
    with queries.reading(_settings(request).history) as db:
        row = queries.verdict_row(db, verdict_id)
    if row is None:
        raise HTTPException(404, f"verdict {verdict_id} is not in the history")
    if row["verdict"] == "unreadable":
        raise HTTPException(404, f"map {row['map']} was unreadable: {row['reason']}")
    try:
        body = _store(request).map_view(row, depth)
    except MapUnavailableError as err:
        raise HTTPException(err.status, err.reason) from None
    return Response(body, media_type="application/json")


@router.get("/channels/{run}/{row}/{col}", summary="One channel across a run's lumisections")
def channel(  # noqa: PLR0917 (FastAPI passes path and query parameters by name)
    request: Request,
    run: RunNumber,
    row: Annotated[int, Path(ge=0, le=100_000)],
    col: Annotated[int, Path(ge=0, le=100_000)],
    depth: Annotated[int, Query(ge=0, le=1024)] = 0,
    first: Annotated[int | None, Query(ge=1, le=_INT)] = None,
    last: Annotated[int | None, Query(ge=1, le=_INT)] = None,
) -> dict[str, Any]:
    """Counts, expected and pull of channel (row, col, depth) in the latest map of each
    lumisection first…last (default: the run's last 2000), whether it was flagged there,
    and why a point is unavailable (its file gone or changed)."""
    with queries.reading(_settings(request).history) as db:
        bounds = db.execute(
            "SELECT MIN(lumisection), MAX(lumisection) FROM verdicts WHERE run = ?", (run,)
        ).fetchone()
        if bounds[0] is None:
            raise HTTPException(404, f"run {run} has no lumisection in the history")
        hi = min(last if last is not None else bounds[1], bounds[1])
        lo = first if first is not None else max(bounds[0], hi - MAX_CHANNEL_SPAN + 1)
        if hi < lo:
            raise HTTPException(422, f"first {lo} is after last {hi}")
        if hi - lo >= MAX_CHANNEL_SPAN:
            raise HTTPException(422, f"at most {MAX_CHANNEL_SPAN} lumisections per request")
        rows = queries.channel_rows(db, run, lo, hi)
    try:
        points = _store(request).channel_history(rows, row, col, depth)
    except MapUnavailableError as err:
        raise HTTPException(err.status, err.reason) from None
    return {"run": run, "row": row, "col": col, "depth": depth, "first": lo, "last": hi,
            "points": points}  # fmt: skip


@router.get("/overrides", summary="The audit list of certification decisions")
def overrides(
    request: Request, run: Annotated[int | None, Query(ge=1, le=_INT)] = None
) -> dict[str, Any]:
    """Every override in the order recorded (of one run with ``run``): run, first_ls,
    last_ls, decision, comment, who, at (UTC)."""
    with queries.reading(_settings(request).history) as db:
        return {"overrides": queries.overrides(db, run), "changes": queries.changes(db)}


@router.get("/golden.json", summary="The CMS good-lumisection JSON", response_class=Response)
def golden(request: Request, download: bool = False) -> Response:
    """``{"RUN": [[first, last], ...]}`` as ``heplearn dqm certify --out`` writes it."""
    with queries.reading(_settings(request).history) as db:
        key = ("golden", *queries.changes(db).values())
        text = _summary(request, key, lambda: golden_json(queries.good_by_run(db)))
    headers = {"Content-Disposition": 'attachment; filename="golden.json"'} if download else {}
    return Response(text, media_type="application/json", headers=headers)


@router.get("/csrf", summary="A CSRF token for POST requests made with cookies")
def csrf(request: Request) -> dict[str, str]:
    """The value to send as ``X-CSRF-Token`` with the ``heplearn_csrf`` cookie set here."""
    return {"csrf": request.state.csrf, "header": "X-CSRF-Token"}


_CONTROL = {chr(c) for c in range(32)} - {"\n", "\t"} | {"\x7f"}


class Certification(BaseModel):
    """A shifter's decision on one lumisection or an inclusive range."""

    model_config = ConfigDict(extra="forbid")

    run: int = Field(ge=1, le=_INT)
    first_ls: int = Field(ge=1, le=_INT)
    last_ls: int | None = Field(default=None, ge=1, le=_INT, description="default: first_ls")
    decision: Literal["good", "bad"]
    comment: str = Field(min_length=1, max_length=2000, description="why (audited)")
    who: str | None = Field(default=None, max_length=64, description="default: login name")

    @field_validator("comment")
    @classmethod
    def _comment(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a comment is required: every decision is audited with its reason")
        if set(value) & _CONTROL:
            raise ValueError("control characters are not allowed in a comment")
        return value

    @field_validator("who")
    @classmethod
    def _who(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        name = clean_who(value)
        if name is None:
            raise ValueError("a name has 1-64 letters, digits, spaces or . @ ' -")
        return name

    @model_validator(mode="after")
    def _range(self) -> Certification:
        last = self.first_ls if self.last_ls is None else self.last_ls
        if last < self.first_ls:
            raise ValueError("last_ls must not be before first_ls")
        if last - self.first_ls >= MAX_RANGE:
            raise ValueError(f"at most {MAX_RANGE} lumisections per decision")
        self.last_ls = last
        return self


@router.post("/certification", summary="Certify a lumisection or range good or bad")
def certify(request: Request, decision: Certification) -> dict[str, Any]:
    """Stored in the history's overrides with the comment, the name (``who``, else the name
    given at login, else "local") and the time; the latest decision on a lumisection wins.
    Refused (403) by a read-only dashboard.  Needs the CSRF header with cookies, and the
    token when the dashboard has one."""
    settings = _settings(request)
    if settings.read_only:
        raise HTTPException(403, "this dashboard is read-only (--read-only): no certification")
    who = decision.who or clean_who(request.cookies.get(WHO_COOKIE)) or "local"
    assert decision.last_ls is not None  # set by the validator
    row = (decision.run, decision.first_ls, decision.last_ls, decision.decision)
    with history_module.open_history(settings.history, writable=True) as opened:
        at = opened.add_overrides([row], decision.comment, who)
    with queries.reading(settings.history) as db:
        good = queries.good_by_run(db, decision.run).get(decision.run, set())
        audit = queries.overrides(db, decision.run)
    return {"override": audit[-1] if audit else None, "at": at, "who": who,
            "certified_good": merge_ranges(good)}  # fmt: skip
