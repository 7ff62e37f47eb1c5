"""The bundling runner's child process (see `bundling_runner.py`):
`python -m services.procurement.adapters.bundling_worker`.

It reads one job on stdin and writes the decisions on stdout. It dies with its parent: once the
job is read, the thread that read it waits for stdin to close (the parent is done, gave up, or
died) and ends the process at once, whatever it is solving.
"""

from __future__ import annotations

import os
import sys

from shared import gc_policy


def main() -> None:
    source = sys.stdin.buffer
    sink = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt the frames
    from services.procurement.adapters import bundling_runner

    def loaded() -> None:  # called by the thread that read the job, once it has all of it
        gc_policy.freeze_long_lived()  # the job lives until the end
        _exit_when_closed()

    bundling_runner.serve(source, sink, loaded=loaded)
    sink.close()
    os._exit(0)


def _exit_when_closed() -> None:
    while sys.stdin.buffer.read(65536):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
