"""``dqm serve``'s JSON API with FastAPI's test client, on a history made by the real tools."""

from __future__ import annotations

import json
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from dashboard_history import (
    FAULTS,
    OTHER_RUN,
    RUN,
    Made,
    make_history,
    maps,
    watch_once,
    write_h5,
)

from heplearn.dqm.dashboard import Settings, create_app
from heplearn.dqm.history import FileEntry, MapEntry, open_history

from conftest import CliResult, assert_one_error

with warnings.catch_warnings():  # starlette prefers the httpx2 fork; httpx works the same
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    return make_history(tmp_path_factory.mktemp("dashboard"))


def _client(**settings: object) -> TestClient:
    return TestClient(create_app(Settings(**settings)), base_url=BASE)  # type: ignore[arg-type]


@pytest.fixture
def client(made: Made) -> Iterator[TestClient]:
    with _client(history=made.history) as opened:
        yield opened


def _copy(made: Made, to: Path) -> Path:
    """A copy of the history (SQLite's backup: whatever the WAL holds comes along)."""
    with closing(sqlite3.connect(made.history)) as source, closing(sqlite3.connect(to)) as copy:
        source.backup(copy)
    return to


def _csrf(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.get("/api/csrf").json()["csrf"]}


def _ids(client: TestClient, run: int = RUN) -> dict[int, dict]:
    return {
        item["lumisection"]: item for item in client.get(f"/api/runs/{run}").json()["lumisections"]
    }


def test_runs_newest_first_with_lumisections_by_verdict(client: TestClient) -> None:
    runs = client.get("/api/runs").json()["runs"]
    assert [r["run"] for r in runs] == [OTHER_RUN, RUN]
    other, run = runs
    assert (run["lumisections"], run["good"], run["flagged"], run["certified_good"]) == (
        12,
        9,
        3,
        9,
    )
    assert (other["lumisections"], other["good"], other["unreadable"]) == (4, 3, 1)


def test_a_run_lists_lumisections_with_verdict_groups_and_certification(client: TestClient) -> None:
    data = client.get(f"/api/runs/{RUN}").json()
    flagged = {
        item["lumisection"]: item for item in data["lumisections"] if item["verdict"] != "good"
    }
    assert {ls: item["verdict"] for ls, item in flagged.items()} == {3: "hot", 6: "dead", 10: "hot"}
    assert flagged[6]["groups"] == ["block 1,2,0"] and flagged[6]["flagged_count"] == 25
    assert all(item["certified"] == "bad" for item in flagged.values())
    assert data["certified_good"] == [[1, 2], [4, 5], [7, 9], [11, 12]]
    assert client.get("/api/runs/999").status_code == 404


def test_a_map_holds_counts_expectation_and_the_flags_the_history_recorded(
    client: TestClient, made: Made
) -> None:
    item = _ids(client)[6]
    with open_history(made.history) as history:
        recorded = next(v for v in history.verdicts(RUN) if v["lumisection"] == 6)
    view = client.get(f"/api/maps/{item['id']}").json()
    assert view["flagged"] == recorded["flagged"] == [list(c) for c in FAULTS[6][1]]
    assert view["shape"] == [16, 24, 2] and view["depths"] == [0, 1]
    assert view["expectation"]["kind"] == "statistical"
    assert set(view["layers"]) == {"counts", "expected", "pull", "ratio", "reference"}
    counts, pull = view["layers"]["counts"][0], view["layers"]["pull"][0]
    assert counts[5][10] == 0.0 and pull[5][10] < -4  # the dead block, far below expectation
    assert abs(view["layers"]["expected"][0][0][0] - 400) < 60
    outline = next(o for o in view["outlines"] if o["group"] == "block 1,2,0")
    assert outline["depth"] == 0 and len(outline["segments"]) == 20  # a 5 × 5 block's border
    one = client.get(f"/api/maps/{item['id']}?depth=1").json()
    assert one["depths"] == [1] and one["layers"]["counts"][0] == view["layers"]["counts"][1]
    assert client.get(f"/api/maps/{item['id']}?depth=2").status_code == 422


def test_a_channel_across_the_run(client: TestClient) -> None:
    data = client.get(f"/api/channels/{RUN}/5/10?depth=0").json()
    points = {p["lumisection"]: p for p in data["points"]}
    assert sorted(points) == list(range(1, 13))
    assert points[6]["flagged"] and points[6]["counts"] == 0.0
    assert not points[5]["flagged"] and points[5]["counts"] > 300
    assert client.get(f"/api/channels/{RUN}/99/0").status_code == 422


@pytest.mark.parametrize(
    "url",
    ["/api/maps/abc", "/api/maps/0", "/api/runs/-3", "/api/runs/x", "/api/maps/1?depth=-1",
     "/api/channels/1/a/2", "/runs/abc", "/maps/1.5", "/api/overrides?run=zero"],
)  # fmt: skip
def test_malformed_ids_are_422(client: TestClient, url: str) -> None:
    assert client.get(url).status_code == 422


def test_unreadable_and_missing_maps_are_404_with_the_reason(made: Made, tmp_path: Path) -> None:
    history = _copy(made, tmp_path / "h.sqlite")
    client = _client(history=history)
    unreadable = _ids(client, OTHER_RUN)[10]
    answer = client.get(f"/api/maps/{unreadable['id']}")
    assert answer.status_code == 404 and "truncated" in answer.json()["detail"]
    assert client.get("/api/maps/99999").status_code == 404
    # A file that disappeared (recorded by hand: the history outlives its files).
    gone = write_h5(tmp_path / f"run{RUN}_ls0100.h5", maps(1, seed=50))
    with open_history(history, writable=True) as opened:
        entry = FileEntry(str(gone), "0" * 64, gone.stat().st_size, 1, "checked")
        opened.record_file(entry, [MapEntry("0", 7, 100, "good", 0.5, "qtest", str(made.run))])
    gone.unlink()
    last = client.get("/api/runs/7").json()["lumisections"][0]
    answer = client.get(f"/api/maps/{last['id']}")
    assert answer.status_code == 404 and "gone" in answer.json()["detail"]


def test_a_map_whose_model_run_is_gone_is_shown_alone(made: Made, tmp_path: Path) -> None:
    history = _copy(made, tmp_path / "h.sqlite")
    path = write_h5(tmp_path / "run7_ls0001.h5", maps(1, seed=51))
    stat = path.stat()
    with open_history(history, writable=True) as opened:
        entry = FileEntry(str(path), "0" * 64, stat.st_size, stat.st_mtime_ns, "checked")
        gone = str(tmp_path / "no-such-run")
        opened.record_file(entry, [MapEntry("0", 7, 1, "hot", 3.0, "qtest", gone, [], [[1, 2, 0]])])
    with _client(history=history) as client:
        item = client.get("/api/runs/7").json()["lumisections"][0]
        view = client.get(f"/api/maps/{item['id']}").json()
    assert view["expectation"] is None and list(view["layers"]) == ["counts"]
    assert "gone" in view["note"] and view["flagged"] == [[1, 2, 0]]


def test_a_2d_root_map_has_one_depth_and_row_col_flags(tmp_path: Path) -> None:
    import numpy as np
    import uproot

    from heplearn.cli.main import main

    good = maps(30, seed=3)[..., 0]  # (30, 16, 24)
    reference = tmp_path / "reference.h5"
    write_h5(reference, good)
    run = tmp_path / "run-2d"
    assert (
        main(["dqm", "train", "--model", "qtest", "--data", str(reference), "--out", str(run)]) == 0
    )
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    values = maps(1, seed=90)[0, ..., 0].astype(np.float64)
    values[4, 7] *= 5  # a hot channel
    edges = (np.arange(17, dtype=np.float64), np.arange(25, dtype=np.float64))
    with uproot.recreate(incoming / "run8_ls0003.root") as handle:
        handle["ls003"] = (values, *edges)
    history = tmp_path / "h.sqlite"
    watch_once(incoming, run, history)
    with _client(history=history, maps=incoming) as client:
        item = client.get("/api/runs/8").json()["lumisections"][0]
        assert (item["lumisection"], item["verdict"], item["map"]) == (3, "hot", "ls003")
        view = client.get(f"/api/maps/{item['id']}").json()
    assert view["shape"] == [16, 24, 1] and view["depths"] == [0]
    assert view["flagged"] == [[4, 7]] and view["layers"]["counts"][0][4][7] == values[4, 7]


def test_a_rewritten_map_file_is_409_and_only_the_maps_folder_is_read(
    made: Made, tmp_path: Path
) -> None:
    with _client(history=made.history, maps=tmp_path) as outside:
        first = _ids(outside)[1]
        answer = outside.get(f"/api/maps/{first['id']}")
        assert answer.status_code == 404 and "outside" in answer.json()["detail"]
    with _client(history=made.history, maps=made.maps) as inside:
        assert inside.get(f"/api/maps/{first['id']}").status_code == 200
    path = Path(first["file"])
    original = path.read_bytes()
    try:
        write_h5(path, maps(4, seed=77))
        with _client(history=made.history) as fresh:
            answer = fresh.get(f"/api/maps/{first['id']}")
        assert answer.status_code == 409 and "changed" in answer.json()["detail"]
    finally:
        path.write_bytes(original)


def test_certification_needs_csrf_is_audited_as_text_and_changes_the_golden_json(
    made: Made, tmp_path: Path
) -> None:
    history = _copy(made, tmp_path / "h.sqlite")
    with _client(history=history) as client:
        before = client.get("/api/golden.json").json()
        request = {"run": RUN, "first_ls": 4, "decision": "bad", "comment": "<b>HV</b> trip"}
        assert client.post("/api/certification", json=request).status_code == 403  # no CSRF
        wrong = {"X-CSRF-Token": "x" * 43}
        assert client.post("/api/certification", json=request, headers=wrong).status_code == 403
        cross = {**_csrf(client), "Origin": "http://evil.example"}
        assert client.post("/api/certification", json=request, headers=cross).status_code == 403
        answer = client.post("/api/certification", json=request, headers=_csrf(client))
        assert answer.status_code == 200, answer.text
        assert answer.json()["who"] == "local"
        after = client.get("/api/golden.json").json()
        assert before[str(RUN)] == [[1, 2], [4, 5], [7, 9], [11, 12]]
        assert after[str(RUN)] == [[1, 2], [5, 5], [7, 9], [11, 12]]
        audit = client.get("/api/overrides").json()["overrides"]
        assert audit[-1]["comment"] == "<b>HV</b> trip"  # stored as given, shown as text
        page = client.get("/certification").text
        assert "<b>HV</b>" not in page  # the audit list is filled by script, as text
        client.cookies.set("heplearn_who", "alice")
        named = {**request, "first_ls": 6, "last_ls": 7, "decision": "good", "comment": "ok"}
        assert (
            client.post("/api/certification", json=named, headers=_csrf(client)).json()["who"]
            == "alice"
        )


@pytest.mark.parametrize(
    "change",
    [{"last_ls": 2}, {"comment": "  "}, {"decision": "maybe"}, {"run": 0}, {"extra": 1},
     {"first_ls": 1, "last_ls": 200_000}, {"who": "<script>"}, {"comment": "a\x00b"}],
)  # fmt: skip
def test_malformed_certifications_are_422_and_record_nothing(
    client: TestClient, made: Made, change: dict
) -> None:
    request = {"run": RUN, "first_ls": 4, "decision": "bad", "comment": "why", **change}
    answer = client.post("/api/certification", json=request, headers=_csrf(client))
    assert answer.status_code == 422
    with open_history(made.history) as history:
        assert history.overrides() == []


def test_read_only_refuses_certification(made: Made) -> None:
    with _client(history=made.history, read_only=True) as client:
        request = {"run": RUN, "first_ls": 4, "decision": "bad", "comment": "why"}
        answer = client.post("/api/certification", json=request, headers=_csrf(client))
        assert answer.status_code == 403 and "read-only" in answer.json()["detail"]
        assert 'id="read-only"' in client.get("/").text


def test_with_a_token_every_request_needs_it(made: Made) -> None:
    token = "t0ken-of-at-least-16"
    with _client(history=made.history, token=token) as client:
        assert client.get("/api/runs").status_code == 401
        assert client.get("/static/common.js", follow_redirects=False).status_code == 303
        page = client.get("/runs/1", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert client.get("/api/runs", headers={"Authorization": f"Bearer {token}"}).is_success
        request = {"run": RUN, "first_ls": 4, "decision": "bad", "comment": "why"}
        assert client.post("/api/certification", json=request).status_code == 401
        # The login form: wrong token refused, right one sets the cookie for the pages.
        assert client.get("/login").is_success
        csrf = client.cookies["heplearn_csrf"]
        form = {"csrf": csrf, "name": "bob", "token": "wrong", "next": "/"}
        assert client.post("/login", data=form).status_code == 401
        answer = client.post("/login", data={**form, "token": token}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        assert client.get("/api/runs").is_success and client.get("/").is_success
        assert "bob" in client.get("/").text


def test_only_loopback_host_names_are_answered_without_a_token(made: Made) -> None:
    with TestClient(
        create_app(Settings(history=made.history)), base_url="http://evil.example"
    ) as c:
        assert c.get("/api/runs").status_code == 421
    with _client(history=made.history) as client:
        answer = client.get("/")
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert "https://" not in answer.text and "cdn" not in client.get("/docs").text
        assert client.get("/docs").is_success and client.get("/openapi.json").is_success


def test_reads_survive_a_history_written_at_the_same_time(made: Made, tmp_path: Path) -> None:
    history = _copy(made, tmp_path / "h.sqlite")
    stop = threading.Event()

    def write() -> None:
        with open_history(history, writable=True) as opened:
            for i in range(200):
                if stop.is_set():
                    return
                entry = FileEntry(f"/maps/w{i}.h5", f"{i:064d}", 1, i, "checked")
                opened.record_file(entry, [MapEntry("0", 8, i + 1, "good", 0.5, "qtest", "r")])

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with _client(history=history) as client:
            statuses = [client.get(url).status_code for _ in range(20)
                        for url in ("/api/runs", "/api/runs/8", "/api/changes")]  # fmt: skip
    finally:
        stop.set()
        writer.join()
    assert set(statuses) <= {200, 404}  # run 8 may not exist yet at the first read
    assert statuses.count(200) >= 50


def test_serve_refuses_a_public_address_without_a_token(
    cli: Callable[..., CliResult], made: Made, tmp_path: Path
) -> None:
    assert_one_error(cli("dqm", "serve", "--history", made.history, "--host", "0.0.0.0"), "--token")
    short = tmp_path / "token.txt"
    short.write_text("abc\n")
    result = cli("dqm", "serve", "--history", made.history, "--token-file", short)
    assert_one_error(result, str(short), "16")
    result = cli("dqm", "serve", "--history", made.history, "--maps", tmp_path / "nope")
    assert_one_error(result, "maps folder not found")


def test_the_openapi_document_lists_every_endpoint(client: TestClient) -> None:
    paths = set(json.loads(client.get("/openapi.json").text)["paths"])
    expected = {"/api/runs", "/api/runs/{run}", "/api/maps/{verdict_id}", "/api/golden.json",
                "/api/certification", "/api/overrides", "/api/channels/{run}/{row}/{col}",
                "/api/changes"}  # fmt: skip
    assert expected <= paths
