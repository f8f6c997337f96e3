"""The daemon's layout rules (issue 10): small modules, a thin service facade. The last submission broke the
first silently (models.py 605, cli.py 573, store/postgres.py 526, web/openapi.py 482 lines): now a test
says so."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "daemon" / "krtasks"
MAX_MODULE_LINES = 450
MAX_FACADE_LINES = 300


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_of_the_daemon_is_over_450_lines() -> None:
    sizes = {str(p.relative_to(PACKAGE)): lines(p) for p in PACKAGE.rglob("*.py")}
    assert len(sizes) > 50
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_the_service_facade_is_at_most_300_lines() -> None:
    assert lines(PACKAGE / "core" / "service.py") <= MAX_FACADE_LINES
