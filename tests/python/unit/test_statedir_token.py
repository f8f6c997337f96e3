"""The token file shared by nodes (``--token-file``): nodes that start together agree on one token.

Regression: three nodes started at once on an empty token file each wrote a token of their own (check, then
replace), so two of them answered the shared token 401 (seen in test_cluster.py on a loaded machine)."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path
from typing import Any

from krtasks.statedir import load_or_create_token

STARTERS = 8


def _start(barrier: Any, state_dir: str, token_file: str, out: Any) -> None:
    barrier.wait()
    out.put(load_or_create_token(Path(state_dir), Path(token_file)))


def test_nodes_starting_together_share_one_token(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(STARTERS), ctx.Queue()
    token_file = tmp_path / "shared" / "token"
    token_file.parent.mkdir()
    procs = [
        ctx.Process(target=_start, args=(barrier, str(tmp_path / f"node{i}"), str(token_file), out))
        for i in range(STARTERS)
    ]
    for p in procs:
        p.start()
    tokens = {out.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert tokens == {token_file.read_text().strip()}
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in token_file.parent.iterdir()) == ["token"]  # no temp file left behind
