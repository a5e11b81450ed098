"""``dqm serve`` in a real headless Chromium (Playwright for Python, the system's browser).

A uvicorn server in a thread on a free port serves a history made by ``dqm train`` and
``dqm watch``; the browser opens the runs page, clicks into a run, steps to the next
flagged lumisection with the keyboard, opens its map, checks that the flagged channels
and the failing group are drawn where the history says, opens a channel's history,
certifies a lumisection bad and sees the good-lumisection JSON change, and watches the
runs page update by itself when ``dqm watch`` records a new run.  The screenshots of
the main views go to docs/img/dashboard-*.png (shown in docs/dqm.md), so they follow
the dashboard as it changes.

Playwright never downloads a browser here: it drives /usr/bin/chromium (CI installs
Debian's chromium); without it the test is skipped, saying so.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_history import FAULTS, RUN, Made, make_history, maps, watch_once, write_h5

from heplearn.dqm.dashboard import Settings, create_app
from heplearn.dqm.history import open_history

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).parents[3] / "docs" / "img"
NEW_RUN = 355102

pytestmark = [
    pytest.mark.slow,  # a browser and a server: ≈ 15 s
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs the system Chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    return make_history(tmp_path_factory.mktemp("dashboard-browser"))


@pytest.fixture(scope="module")
def server(made: Made) -> Iterator[str]:
    import uvicorn

    app = create_app(Settings(history=made.history, maps=made.maps, poll_seconds=0.5))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


def _golden(base: str) -> dict[str, list[list[int]]]:
    with urllib.request.urlopen(f"{base}/api/golden.json", timeout=10) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"dashboard-{name}.png"), full_page=True)


def _cell_centre(page: Any, row: int, col: int) -> tuple[float, float]:
    """Where the heatmap draws channel (row, col), in page pixels (from plotly's axes)."""
    return tuple(
        page.evaluate(
            """([row, col]) => {
                const gd = document.getElementById("heatmap");
                const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
                const box = gd.getBoundingClientRect();
                return [box.left + xa._offset + xa.l2p(col), box.top + ya._offset + ya.l2p(row)];
            }""",
            [row, col],
        )
    )


def _runs_then_run(page: Any, server: str) -> None:
    """Runs newest first; into the run; n / p step between flagged lumisections."""
    page.goto(f"{server}/")
    page.wait_for_selector("#runs tbody tr >> nth=1")
    assert page.locator("#runs tbody tr").first.get_attribute("data-run") == "355101"
    _shot(page, "runs")
    page.fill("#filter", "flagged")  # runs with a flagged lumisection only
    page.wait_for_selector("#runs[data-rows='1']")
    page.fill("#filter", "")
    page.click(f"a.run-link:text-is('{RUN}')")
    page.wait_for_selector("body[data-loaded=true]")
    panel = page.locator("#selected")
    assert panel.get_attribute("data-ls") == "3"  # the first flagged lumisection
    page.keyboard.press("n")
    assert panel.get_attribute("data-ls") == "6" and panel.get_attribute("data-verdict") == "dead"
    page.keyboard.press("n")
    page.keyboard.press("p")
    assert panel.get_attribute("data-ls") == "6"
    assert "block 1,2,0" in page.inner_text("#sel-groups")
    _shot(page, "run")


def _map_of_the_selected(page: Any, made: Made) -> None:
    """The map of lumisection 6: flagged channels and the failing group where recorded."""
    page.keyboard.press("m")
    page.wait_for_selector("body[data-loaded=true]")
    with open_history(made.history) as history:
        recorded = next(v for v in history.verdicts(RUN) if v["lumisection"] == 6)
    assert recorded["flagged"] == [list(c) for c in FAULTS[6][1]]
    drawn = json.loads(page.get_attribute("#heatmap", "data-flagged"))
    assert sorted(drawn) == sorted([r, c] for r, c, d in recorded["flagged"] if d == 0)
    traces = page.evaluate(
        """() => document.getElementById("heatmap").data.map(
            (t) => ({name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])}))"""
    )
    flagged = next(t for t in traces if t["name"] == "flagged")
    centres = {
        (round(sum(flagged["y"][i : i + 4]) / 4), round(sum(flagged["x"][i : i + 4]) / 4))
        for i in range(0, len(flagged["x"]), 6)
    }
    assert centres == {(r, c) for r, c, _ in recorded["flagged"]}
    assert any(t["name"] == "group block 1,2,0" for t in traces)
    _shot(page, "map")
    page.select_option("#layer", "pull")
    page.wait_for_selector("#heatmap[data-drawn='0:pull']")
    _shot(page, "map-pull")
    # Click a dead channel: its history across the run.
    page.select_option("#layer", "counts")
    x, y = _cell_centre(page, 7, 12)
    page.mouse.click(x, y)
    page.wait_for_selector("#channel[data-points='12']", timeout=15_000)
    assert "row 7, column 12" in page.inner_text("#channel-title")
    _shot(page, "channel")


def _certify_bad(page: Any, server: str) -> None:
    """Lumisection 4 certified bad from the run page: the golden JSON changes."""
    before = _golden(server)
    assert before[str(RUN)] == [[1, 2], [4, 5], [7, 9], [11, 12]]
    page.goto(f"{server}/runs/{RUN}#ls=4")
    page.wait_for_selector("body[data-loaded=true]")
    assert page.locator("#selected").get_attribute("data-ls") == "4"
    page.fill("#cert-comment", "HV trip <script>alert(1)</script>")
    page.click("#cert-submit")
    page.wait_for_selector("#cert-status:has-text('recorded')")
    assert _golden(server)[str(RUN)] == [[1, 2], [5, 5], [7, 9], [11, 12]]
    page.goto(f"{server}/certification")
    page.wait_for_selector("#audit tbody tr")
    assert "HV trip <script>alert(1)</script>" in page.inner_text("#audit")  # text, not HTML
    assert "[5, 5]" in page.inner_text("#golden")
    _shot(page, "certification")


def _live(page: Any, server: str, made: Made) -> None:
    """A run recorded by dqm watch appears on the open runs page without a reload."""
    page.goto(f"{server}/")
    page.wait_for_selector("#runs[data-rows='2']")
    write_h5(made.maps / f"run{NEW_RUN}_ls0001.h5", maps(2, seed=60))
    start = time.monotonic()
    watch_once(made.maps, made.run, made.history)
    page.wait_for_selector(f"#runs tbody tr[data-run='{NEW_RUN}']", timeout=10_000)
    assert time.monotonic() - start < 10
    assert page.locator("#runs tbody tr").count() == 3


def test_a_shifter_steps_through_flagged_lumisections_certifies_and_sees_live_updates(
    made: Made, server: str, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    _runs_then_run(page, server)
    _map_of_the_selected(page, made)
    _certify_bad(page, server)
    _live(page, server, made)
    assert not errors, errors
    page.close()


def test_a_map_whose_file_is_gone_says_why(made: Made, server: str, browser: Any) -> None:
    with open_history(made.history) as history:
        last = history.verdicts(RUN)[-1]
    path = Path(last["file"])
    moved = path.with_suffix(".moved")
    path.rename(moved)
    try:
        page = browser.new_page()
        page.goto(f"{server}/maps/{last['id']}")
        page.wait_for_selector("#map-error:not([hidden])")
        assert "gone" in page.inner_text("#map-error")
        assert page.get_attribute("body", "data-error") == "404"
        page.close()
    finally:
        moved.rename(path)
