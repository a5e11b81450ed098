"""Every command that reads input refuses every bad file of the corpus the same way.

Exit code 1, exactly one stderr line ``error: ...`` that names the file (and the
field where there is one), no traceback, no "unexpected" (a bug's message), and
nothing written at ``--out``.  The corpus is made at test time (``corpus.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from corpus import (
    DATA,
    DATA_TRAINING,
    GROUPINGS,
    GUN_FEWER_SCALARS,
    GUN_NAN,
    GUN_OTHER_GEOMETRY,
    HISTORIES,
    NAN_STORE,
    NEGATIVE_MAPS,
    NO_FOLDER,
    RUNS,
    ZERO_SIGNAL,
    Bad,
    add_gun_variants,
    add_nan,
    configs,
    make_corpus,
    zero_signal,
)

from conftest import CliResult

CONFIGS = Path(__file__).parents[2] / "configs"


@dataclass(frozen=True)
class Case:
    """A command line with ``{bad}`` (the corpus file), ``{out}`` and ``{dir}`` (the corpus)."""

    argv: tuple[str, ...]
    bad: Bad

    @property
    def id(self) -> str:
        words = [a for a in self.argv if not a.startswith(("{", "-")) and "/" not in a][:2]
        return f"{' '.join(words)}:{self.bad.name}"


def _data_evaluation_cases(store_bad: list[Bad]) -> list[Case]:
    """calib evaluate on data (no truth): a bad data store, and a bad --mc store."""
    head = ("calib", "evaluate", "--run", "{crun}", "--out", "{out}", "--no-truth")
    tails = (("--data", "{bad}"), ("--data", "{gun}", "--mc", "{bad}"))
    return [Case((*head, *tail), bad) for tail in tails for bad in store_bad]


def _study_cases(store_bad: list[Bad]) -> list[Case]:
    """search study and tune, calib study: a bad store (refused before anything runs) and a
    bad config."""
    study = ("search", "study", "--out", "{out}", "--vary", "padding=thesis,mean")
    quick = str(CONFIGS / "search" / "train-quick.yaml")
    cases = [Case((*study, "--config", quick, "--data", "{bad}"), bad) for bad in store_bad]
    tail = ("--data", "{dir}/good.h5")
    cases += [Case((*study, "--config", "{bad}", *tail), b) for b in configs("search-train")]
    calib_study = ("calib", "study", "--out", "{out}")
    tiny = str(CONFIGS / "calib" / "study" / "tiny.yaml")
    cases += [Case((*calib_study, "--config", tiny, "--data", "{bad}"), b) for b in store_bad]
    cases += [
        Case((*calib_study, "--config", "{bad}", "--data", "{gun}"), b)
        for b in configs("calib-study")
    ]
    tune = ("search", "tune", "--out", "{out}", "--trials", "1")
    cases += [Case((*tune, "--config", quick, "--data", "{bad}"), bad) for bad in store_bad]
    return cases + [Case((*tune, "--config", "{bad}", *tail), b) for b in configs("search-train")]


def _cases() -> list[Case]:
    data, runs = DATA, RUNS
    store_bad = [b for b in data if b.name.endswith(".h5") and b.name != "strings.h5"]
    out: list[Case] = []

    def add(bads: list[Bad], *argv: str) -> None:
        out.extend(Case(tuple(argv), bad) for bad in bads)

    add([*data, NAN_STORE], "data", "import", "{bad}", "--out", "{out}")
    add(
        configs("import-mapping"),
        "data",
        "import",
        "{dir}/good.root",
        "--out",
        "{out}",
        "--mapping",
        "{bad}",
    )
    add(store_bad, "data", "export", "{bad}", "--out", "{out}")
    add(store_bad, "data", "inspect", "{bad}")
    add(store_bad, "data", "validate", "{bad}", "--out", "{out}")
    add([*store_bad, GUN_NAN], "calib", "train", "--data", "{bad}", "--out", "{out}")
    add(
        [*configs("calib-train"), *DATA_TRAINING],
        "calib",
        "train",
        "--data",
        "{gun}",
        "--out",
        "{out}",
        "--config",
        "{bad}",
    )
    add(store_bad, "calib", "tune", "--data", "{bad}", "--out", "{out}", "--trials", "1")
    add(runs, "calib", "evaluate", "--run", "{bad}", "--data", "{dir}/good.h5", "--out", "{out}")
    add(store_bad, "calib", "evaluate", "--run", "{crun}", "--data", "{bad}", "--out", "{out}")
    add(data, "calib", "fit-mass", "{bad}", "--column", "truth/energy", "--out", "{out}")
    add(store_bad, "calib", "scale-fit", "--data", "{bad}", "--out", "{out}")
    add(store_bad, "calib", "scale-fit", "--data", "{gun}", "--mc", "{bad}", "--out", "{out}")
    add(runs, "calib", "scale-fit", "-d", "{gun}", "-r", "{bad}", "-m", "bdt", "--out", "{out}")
    # A corrections file is JSON, not a store: the corpus' field-level damage does not apply.
    not_json = [b for b in data if not b.field]
    add(not_json, "calib", "correct", "--corrections", "{bad}", "--data", "{gun}", "--out", "{out}")
    compare = ("calib", "compare", "--out", "{out}")
    mc_bad = [*store_bad, GUN_NAN, GUN_OTHER_GEOMETRY, GUN_FEWER_SCALARS]
    add(mc_bad, *compare, "--mc", "{bad}", "--data", "{gun}")
    add([*store_bad, GUN_NAN], *compare, "--mc", "{gun}", "--data", "{bad}")
    add(runs, "calib", "export", "--run", "{bad}", "--out", "{out}.onnx")
    add(
        [*data, NEGATIVE_MAPS],
        "dqm",
        "train",
        "--data",
        "{bad}",
        "--out",
        "{out}",
        "--model",
        "qtest",
    )
    add(
        configs("dqm-model"),
        "dqm",
        "train",
        "--data",
        "{dir}/good-maps.h5",
        "--out",
        "{out}",
        "--config",
        "{bad}",
    )
    dqm_train = ("dqm", "train", "--data", "{dir}/good-maps.h5", "--out", "{out}")
    add(GROUPINGS, *dqm_train, "--model", "qtest", "--geometry", "{bad}")
    add(runs, "dqm", "evaluate", "--run", "{bad}", "--data", "{dir}/good.h5", "--out", "{out}")
    add(runs, "dqm", "check", "{dir}/good-maps.h5", "--run", "{bad}")
    add([*data, NEGATIVE_MAPS], "dqm", "check", "{bad}", "--run", "{qrun}")
    add(store_bad, "dqm", "evaluate", "--run", "{qrun}", "--data", "{bad}", "--out", "{out}")
    watch = ("dqm", "watch", "--once", "--interval", "0")
    add(HISTORIES, *watch, "{dir}/watch-folder", "--run", "{qrun}", "--history", "{bad}")
    add([NO_FOLDER], *watch, "{bad}", "--run", "{qrun}", "--history", "{out}")
    add(runs, *watch, "{dir}/watch-folder", "--run", "{bad}", "--history", "{out}")
    add(HISTORIES, "dqm", "history", "--history", "{bad}")
    add(HISTORIES, "dqm", "certify", "--history", "{bad}", "--out", "{out}")
    # Refused before anything listens: the server never starts on a bad history.
    add(HISTORIES, "dqm", "serve", "--history", "{bad}")
    for command in ("train", "scan"):  # the same inputs: a search config and a store
        quick = str(CONFIGS / "search" / "train-quick.yaml")
        add(store_bad, "search", command, "--config", quick, "--data", "{bad}", "--out", "{out}")
        add(
            configs("search-train"),
            "search",
            command,
            "--config",
            "{bad}",
            "--data",
            "{dir}/good.h5",
            "--out",
            "{out}",
        )
    add(runs, "search", "evaluate", "--run", "{bad}", "--data", "{dir}/good.h5", "--out", "{out}")
    add(store_bad, "search", "evaluate", "--run", "{srun}", "--data", "{bad}", "--out", "{out}")
    add([ZERO_SIGNAL], "search", "evaluate", "--run", "{srun}", "--data", "{bad}", "--out", "{out}")
    observed = ("--data", "{dir}/search-store", "--observed", "{bad}")
    add(store_bad, "search", "evaluate", "--run", "{srun}", *observed, "--out", "{out}")
    for kind, command in (
        ("calib-sample", "calib"),
        ("dqm-sample", "dqm"),
        ("dqm-ecal-sample", "dqm"),
        ("search-sample", "search"),
    ):
        add(configs(kind), "generate", command, "--config", "{bad}", "--out", "{out}")
    return out + _data_evaluation_cases(store_bad) + _study_cases(store_bad)


CASES = _cases()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("bad-inputs"))


@pytest.fixture(scope="module")
def qrun(corpus: Path) -> Path:
    """A qtest run on the corpus' good maps (for commands that need a DQM run)."""
    from heplearn.cli.main import main

    run = corpus / "qtest-run"
    args = ["dqm", "train", "--data", str(corpus / "good-maps.h5"), "--model", "qtest"]
    assert main([*args, "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def crun(corpus: Path, gun_store: Path) -> Path:
    """A BDT-only calibration run (seconds), for commands that need one."""
    from heplearn.cli.main import main

    config = corpus / "bdt-only.yaml"
    config.write_text("kind: calib-train\nnetwork: none\nbdt: {n_estimators: 5}\n")
    run = corpus / "calib-run"
    args = ["calib", "train", "--data", str(gun_store), "--config", str(config)]
    assert main([*args, "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def srun(corpus: Path) -> Path:
    """A cuts-only search run on 300 Pythia events (≈ 2 s), for commands that need one."""
    from heplearn.cli.main import main

    store, run, config = corpus / "search-store", corpus / "search-run", corpus / "cuts.yaml"
    generate = ["generate", "search", "--config", str(CONFIGS / "search" / "quick.yaml")]
    assert main([*generate, "--out", str(store), "--events", "300"]) == 0
    settings = yaml.safe_load((CONFIGS / "search" / "train-quick.yaml").read_text())
    config.write_text(yaml.safe_dump({**settings, "methods": ["thesis_cuts"]}))
    train = ["search", "train", "--config", str(config), "--data", str(store)]
    assert main([*train, "--out", str(run)]) == 0
    return run


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_error(
    case: Case,
    corpus: Path,
    request: pytest.FixtureRequest,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    bad = corpus / case.bad.name
    out = tmp_path / "out"
    values = {"bad": str(bad), "out": str(out), "dir": str(corpus)}
    for name, fixture in (
        ("gun", "gun_store"),
        ("qrun", "qrun"),
        ("crun", "crun"),
        ("srun", "srun"),
    ):
        if any(f"{{{name}}}" in a for a in case.argv):
            values[name] = str(request.getfixturevalue(fixture))
    if case.bad == GUN_NAN and not bad.exists():
        add_nan(request.getfixturevalue("gun_store"), corpus)
    if case.bad in (GUN_OTHER_GEOMETRY, GUN_FEWER_SCALARS) and not bad.exists():
        add_gun_variants(request.getfixturevalue("gun_store"), corpus)
    if case.bad == ZERO_SIGNAL and not bad.exists():
        zero_signal(corpus / "search-store", corpus)
    result = cli(*(a.format(**values) for a in case.argv))
    lines = result.err.strip().splitlines()
    assert result.code == 1, (result.code, result.err)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    line = lines[0]
    assert "Traceback" not in result.err and "unexpected" not in line, line
    assert str(bad) in line, line
    assert case.bad.field in line, (case.bad.field, line)
    assert not list(tmp_path.iterdir()), "something was written at --out"


def test_every_command_that_reads_input_is_covered() -> None:
    from heplearn.cli.main import app

    commands = {
        f"{group.name} {command.name or command.callback.__name__}"
        for group in app.registered_groups
        for command in group.typer_instance.registered_commands
        if command.callback is not None
    }
    # info and demo take no input; every sub-command of a group reads a file or folder.
    assert commands == {" ".join(case.argv[:2]) for case in CASES}
