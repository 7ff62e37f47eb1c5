"""`python -m fuzz` (`make fuzz`): schemathesis, all checks, against the three admin APIs of a
fresh platform, longer than `make test` does and with a random seed, for whoever hunts. Exit
code 0 only when no check failed and the members registry holds nothing a refusal left behind."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from fuzz.admin_api import fuzz_admin_apis


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=300, help="schemathesis's time per service")
    parser.add_argument("--seed", type=int, default=None, help="a seed to reproduce a run (default: random)")
    parser.add_argument("--dir", type=Path, default=None, help="keep outputs and reports here (default: a temp dir)")
    options = parser.parse_args(argv)
    seed = options.seed if options.seed is not None else random.randrange(2**31)
    workdir = options.dir or Path(tempfile.mkdtemp(prefix="alliance-fuzz-"))
    print(f"schemathesis, all checks, {options.seconds} s per service, seed {seed}; outputs in {workdir}", flush=True)
    run = fuzz_admin_apis(options.seconds, seed, workdir)
    for service in run.services:
        print(f"\n=== {service.service}: {'passed' if service.passed else 'FAILED'} ({service.output})\n{service.summary}")
    members = run.members
    print(f"members afterwards: seed members missing {members.seed_members_missing or 'none'}, "
          f"{members.created_by_the_fuzzer} created by valid requests, invalid {members.invalid or 'none'}")
    print(f"\n{'passed' if run.passed else 'FAILED'}: reproduce with `python -m fuzz --seed {seed}`")
    return 0 if run.passed else 1


if __name__ == "__main__":
    sys.exit(main())
