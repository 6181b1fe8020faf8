"""Profile ``pump-emulator serve`` itself, in its own process, while a client polls it.

``python -m bench.serveprof [--requests N] [--top K]`` starts ``serve`` (one pump, demo
preset, a pty) under cProfile (the profile covers the server loop only, from
``serve_forever`` on), runs a clinician session's handshake, sends 200 STATUS requests
to warm up and N more, stops the server and prints, per STATUS request: the Python calls,
and the K functions with the most own time (in microseconds per request, inflated by the
profiler's own cost, so read them as shares) with their calls per request. It also prints
the server's CPU per request measured without the profiler in the same way, for scale.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile

from bench.bench_status_floor import _emulator_requests, process_cpu_ns
from bench.ptyfloor import ServerProcess

WARM_UP = 200


def _serve_profiled(out: str, argv: list[str]) -> int:
    """The server's side: ``serve`` with the loop profiled, the profile dumped on stop."""
    from emulator import cli, server  # noqa: PLC0415 - the child process only

    profile = cProfile.Profile()
    serve_forever = server.Server.serve_forever

    def profiled(self: server.Server) -> None:
        profile.enable()
        try:
            serve_forever(self)
        finally:
            profile.disable()
            profile.dump_stats(out)

    server.Server.serve_forever = profiled  # type: ignore[method-assign]
    return cli.main(["serve", *argv])


def _drive(args: list[str], requests: int) -> float:
    """Run the server ``args``, poll it; returns its CPU per STATUS in microseconds."""
    with ServerProcess(args) as server:
        link, next_request = _emulator_requests(str(server.ready["pty"]))
        for _ in range(WARM_UP):
            link.exchange(next_request())
        before = process_cpu_ns(server.pid)
        for _ in range(requests):
            link.exchange(next_request())
        cpu_us = (process_cpu_ns(server.pid) - before) / requests / 1e3
        link.close()
    return cpu_us


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serveprof")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vpump-serveprof-") as tmp:
        serve = ["--preset", "demo", "--port", f"{tmp}/ttyP0"]
        plain_us = _drive(["-m", "emulator.cli", "serve", *serve], args.requests)
        out = f"{tmp}/serve.prof"
        _drive(["-m", "bench.serveprof", "--serve", out, *serve], args.requests)
        stats = pstats.Stats(out)
    served = WARM_UP + args.requests + 2  # and the handshake's two frames
    rows = []
    calls = 0
    for (path, line, name), (_, ncalls, own_s, total_s, _) in stats.stats.items():  # type: ignore[attr-defined]
        calls += ncalls
        where = os.path.relpath(path) if path.startswith("/") else path
        rows.append(
            (own_s / served * 1e6, total_s / served * 1e6, ncalls / served, where, line, name)
        )
    print(f"serve CPU per STATUS without the profiler: {plain_us:.1f} us")
    print(f"Python calls per STATUS under the profiler: {calls / served:.0f}")
    print(f"{'own us':>8} {'total us':>9} {'calls':>6}  function")
    for own, total, n, where, line, name in sorted(rows, reverse=True)[: args.top]:
        print(f"{own:8.2f} {total:9.2f} {n:6.2f}  {where}:{line}({name})")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        raise SystemExit(_serve_profiled(sys.argv[2], sys.argv[3:]))
    raise SystemExit(main())
