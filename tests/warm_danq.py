"""A fork server for running many `danq` commands fast: it imports the package and torch once,
then runs each command in a fresh process forked from it (`python tests/warm_danq.py`).

Importing torch costs about 3 s of CPU per process, so the bad-input corpus (~60 commands)
would spend minutes importing; forked children start with everything imported. Each child
is still its own process: its own exit status, its own stdout/stderr (files), the real
`danq_pipeline.cli.main` entry point, and an uncaught exception prints a traceback and exits
1 as the interpreter would. Nothing else runs in this process (no torch op before a fork,
so no thread pool is inherited). Protocol: one JSON request per stdin line
({"argv", "cwd", "stdout", "stderr"}), one JSON reply per stdout line ({"status"}).
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import traceback


def _preload() -> None:
    """Import what the commands import (the heavy part of starting a command)."""
    import danq_pipeline.cli as cli
    import danq_pipeline.deepsea  # noqa: F401
    import danq_pipeline.evaluate  # noqa: F401
    import danq_pipeline.ism  # noqa: F401
    import danq_pipeline.motifs  # noqa: F401
    import danq_pipeline.prepare  # noqa: F401
    import danq_pipeline.report  # noqa: F401
    import danq_pipeline.train  # noqa: F401
    import danq_pipeline.variant_io  # noqa: F401

    cli.build_parser()


def _child(request: dict) -> None:
    """Run one command in this (forked) process and exit with its status."""
    os.chdir(request["cwd"])
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
    sys.argv = ["danq", *request["argv"]]
    from danq_pipeline.cli import main

    try:
        status = main(request["argv"])
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
        if not isinstance(stop.code, int | None):
            print(stop.code, file=sys.stderr)
    except BaseException:  # what the interpreter does with an uncaught exception
        traceback.print_exc()
        status = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(status))


def serve() -> None:
    """Answer requests until stdin closes."""
    _preload()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, wait_status = os.waitpid(pid, 0)
        print(json.dumps({"status": os.waitstatus_to_exitcode(wait_status)}), flush=True)


if __name__ == "__main__":
    serve()
