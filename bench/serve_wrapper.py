"""How the benchmarks run `krtasks serve`: ``serve_wrapper.py [--profile OUT.html|OUT.txt] [--store-timing] serve
--port ...``.

Same as the ``krtasks`` entry point, plus three diagnostics:

- SIGUSR1 dumps every Python thread's stack to stderr (the daemon log), so a daemon that stops answering
  can be examined before it is killed;
- ``--profile``: pyinstrument samples the event-loop thread. The daemon leaves through ``os._exit`` (so
  worker threads still in .NET cannot keep it alive), which skips pyinstrument's own writer; the profile
  is written just before that exit, with a ``.pyisession`` file beside it for other views
  (``pyinstrument --load FILE -r text --show-all``);
- ``--store-timing``: the time the task store is busy, as counters at ``/metrics`` (bench/store_timing.py).
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
from pathlib import Path


def _profile_until_exit(out: Path) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    real_exit = os._exit

    def exit_with_profile(code: int) -> None:
        profiler.stop()
        text = profiler.output_text(show_all=False) if out.suffix == ".txt" else profiler.output_html()
        out.write_text(text, encoding="utf-8")
        if profiler.last_session is not None:
            profiler.last_session.save(str(out.with_suffix(".pyisession")))
        real_exit(code)

    os._exit = exit_with_profile  # type: ignore[assignment]
    profiler.start()


def main() -> None:
    """Install the diagnostics, then run the krtasks command line with the remaining arguments."""
    args = sys.argv[1:]
    faulthandler.register(signal.SIGUSR1, all_threads=True, file=sys.stderr)
    if args[:1] == ["--profile"]:
        _profile_until_exit(Path(args[1]))
        args = args[2:]
    if args[:1] == ["--store-timing"]:
        import store_timing

        store_timing.install()
        args = args[1:]
    from krtasks.cli import main as krtasks_main

    krtasks_main(args)


if __name__ == "__main__":
    main()
