"""The torchrun DDP path, with two CPU processes on gloo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch


@pytest.mark.slow
def test_two_process_ddp_trains_identical_replicas(tmp_path: Path) -> None:
    job = Path(__file__).with_name("ddp_job.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", str(job), str(tmp_path)]
    done = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rank0 = torch.load(tmp_path / "weights-rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "weights-rank1.pt", weights_only=True)
    torch.testing.assert_close(rank0, rank1, rtol=0, atol=0)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]  # one writer: rank 0
    assert rows[-1]["val_loss"] < 0.1 * rows[0]["train_loss"]
