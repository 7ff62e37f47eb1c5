"""schemathesis, all checks, against the three admin APIs of a fresh platform: briefly and with a
fixed seed, so a failure here reproduces with `python -m fuzz --seed 20261205`. Outputs and JUnit
reports stay in .alliance/fuzz-reports when it fails. `make fuzz` runs longer with a random seed."""

import shutil
from pathlib import Path

from fuzz.admin_api import fuzz_admin_apis

SEED = 20261205
SECONDS_PER_SERVICE = 30
REPORTS = Path(__file__).resolve().parents[2] / ".alliance" / "fuzz-reports"


def test_the_admin_apis_hold_under_schemathesis():
    shutil.rmtree(REPORTS, ignore_errors=True)
    run = fuzz_admin_apis(SECONDS_PER_SERVICE, SEED, REPORTS)
    failed = [f"{s.service} ({s.output}):\n{s.summary}" for s in run.services if not s.passed]
    assert not failed, "\n\n".join(failed)
    assert not run.members.seed_members_missing and not run.members.invalid, run.members
    assert all("generated" in s.summary for s in run.services)  # schemathesis ran, and reported
    shutil.rmtree(REPORTS)
