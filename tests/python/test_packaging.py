"""The wheel carries the dashboard: every template, script, stylesheet and vendored file under web/ui."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from daemon_fixtures import REPO


def test_the_wheel_ships_the_dashboard_files(tmp_path: Path) -> None:
    # pip honours PIP_NO_INDEX / PIP_FIND_LINKS (offline machines) for the build backend.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("krtasks-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    ui = REPO / "daemon" / "krtasks" / "web" / "ui"
    wanted = {
        "krtasks/" + str(p.relative_to(REPO / "daemon" / "krtasks"))
        for folder in ("static", "templates")
        for p in (ui / folder).rglob("*")
        if p.is_file()
    }
    assert len(wanted) > 20 and wanted <= shipped, sorted(wanted - shipped)
