"""First-compile and cached-compile times of the Roslyn engines, in fresh processes.

Each run is a new Python process (the CLR loads once per process, so "first" really is cold):

- ``cs_first`` / ``vb_first``: the first C# / VB compile of the process (cold JIT of the compiler and of the
  reference set), what :meth:`ScriptCompiler.WarmUp` pays at daemon start;
- ``cs_next`` / ``vb_next``: the mean of 20 further, distinct compiles (warm compiler);
- ``cs_cached``: :meth:`RoslynEngine.prepare` of code already compiled (the compile cache's hit path).

Usage: ``.venv/bin/python bench/compile_time.py [--runs 5] [--bundle DIR ...]``; prints the median of each, in
ms. Several ``--bundle`` folders (e.g. one published from another commit) are measured in turn, run by run, so
that both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = "--child"


def child() -> None:
    from krtasks.engine_roslyn import RoslynEngine
    from krtasks.runtime import load_runtime

    net = load_runtime().net
    compiler = net.ScriptCompiler
    args = net.TaskArguments.FromJson('{"total": 21}')
    empty: list[str] = []
    out: dict[str, float] = {}

    def timed(name: str, fn: object) -> None:
        began = time.perf_counter()
        result = fn()  # type: ignore[operator]
        out[name] = (time.perf_counter() - began) * 1000
        if not result.Success:
            raise SystemExit(f"{name} did not compile: {[str(d.Message) for d in result.Diagnostics]}")
        result.Script.Unload()

    code = 'var sb = new System.Text.StringBuilder(); sb.Append(total * 2); return sb.ToString();'
    timed("cs_first", lambda: compiler.CompileCSharp(code, args, empty, empty))
    timed("vb_first", lambda: compiler.CompileVisualBasic("Return (total * 2).ToString()", args, empty, empty))
    for i in range(20):
        timed(f"cs_{i}", lambda i=i: compiler.CompileCSharp(f"{code} // {i}", args, empty, empty))
        vb = f"Return (total * {i}).ToString()"
        timed(f"vb_{i}", lambda vb=vb: compiler.CompileVisualBasic(vb, args, empty, empty))
    for lang in ("cs", "vb"):
        out[f"{lang}_next"] = statistics.mean(out.pop(f"{lang}_{i}") for i in range(20))
    engine = RoslynEngine(net, "CSharp", 16, 100, 8, 1 << 20)
    key = engine.prepare(code, args, [], [])
    began = time.perf_counter()
    for _ in range(100):
        engine.release(engine.prepare(code, args, [], []))
    out["cs_cached"] = (time.perf_counter() - began) * 1000 / 100
    engine.release(key)
    engine.close()
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bundle", action="append", default=[], help="a published bundle folder (KRTASKS_BUNDLE)")
    ns = parser.parse_args()
    bundles: list[str | None] = list(ns.bundle) or [None]
    samples: dict[str | None, dict[str, list[float]]] = {b: {} for b in bundles}
    for _ in range(ns.runs):
        for bundle in bundles:
            env = dict(os.environ)
            if bundle is not None:
                env["KRTASKS_BUNDLE"] = bundle
            done = subprocess.run([sys.executable, __file__, CHILD], capture_output=True, text=True, check=True,
                                  env=env)
            for name, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
                samples[bundle].setdefault(name, []).append(value)
    for bundle in bundles:
        print(f"bundle: {bundle or 'default'}")
        for name, values in samples[bundle].items():
            print(f"  {name:10} median {statistics.median(values):9.2f} ms  (min {min(values):.2f}, "
                  f"max {max(values):.2f})")


if __name__ == "__main__":
    if CHILD in sys.argv:
        child()
    else:
        main()
