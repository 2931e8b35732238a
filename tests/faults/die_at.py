"""Run a ``proxytask`` command that kills itself (SIGKILL, as ``kill -9`` would) on the n-th call of a function.

    python -m tests.faults.die_at MODULE.FUNCTION N -- proxytask-arguments...

No handler runs, no file is closed: what is on disk is what a killed run leaves.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys


def main() -> int:
    target, nth = sys.argv[1], int(sys.argv[2])
    arguments = sys.argv[sys.argv.index("--") + 1:]
    module_name, name = target.rsplit(".", 1)
    module = importlib.import_module(module_name)
    original = getattr(module, name)
    calls = 0

    def dying(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(module, name, dying)
    from proxytask.cli import main as cli_main

    return cli_main(arguments)


if __name__ == "__main__":
    sys.exit(main())
