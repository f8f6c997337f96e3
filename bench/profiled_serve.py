"""`krtasks serve` under pyinstrument: ``profiled_serve.py OUT.(html|txt) serve --port ...``.

The daemon leaves through ``os._exit`` (so worker threads still in .NET cannot keep it alive), which skips
pyinstrument's own command-line writer; this wrapper writes the profile of the event-loop thread first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyinstrument import Profiler


def main() -> None:
    """Profile the main (event-loop) thread of the daemon until it exits."""
    out = Path(sys.argv[1])
    profiler = Profiler(interval=0.0005)
    real_exit = os._exit

    def exit_with_profile(code: int) -> None:
        profiler.stop()
        text = profiler.output_text(show_all=False) if out.suffix == ".txt" else profiler.output_html()
        out.write_text(text, encoding="utf-8")
        if profiler.last_session is not None:  # re-render later: pyinstrument --load FILE --show-all
            profiler.last_session.save(str(out.with_suffix(".pyisession")))
        real_exit(code)

    os._exit = exit_with_profile  # type: ignore[assignment]
    profiler.start()
    from krtasks.cli import main as krtasks_main

    krtasks_main(sys.argv[2:])


if __name__ == "__main__":
    main()
