"""schemathesis, all checks, against each admin API of a fresh `alliance run --seed demo`.

Each service's run writes schemathesis's output and a JUnit report under the work directory. The
token reaches schemathesis through the environment (fuzz/schemathesis.toml), never its command
line. Afterwards the members registry is read back: every seed member is still there, and every
member there is one a valid request could have made, so no refused request left a trace.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from pydantic import ValidationError

from services.members.entrypoints.http import MemberChanges
from shared.admin_token import token_path
from shared.settings import SERVICES
from tests.support.runs import DEMO_SEED, isolated_environment, platform_up

CONFIG = Path(__file__).with_name("schemathesis.toml")


@dataclass(frozen=True)
class ServiceFuzz:
    service: str
    passed: bool
    summary: str
    """schemathesis's own SUMMARY section: operations, phases, failures, test cases."""
    output: Path


@dataclass(frozen=True)
class MembersAfter:
    seed_members_missing: list[str]
    created_by_the_fuzzer: int
    invalid: dict[str, str]
    """Member id -> why no valid request could have stored it."""


@dataclass(frozen=True)
class FuzzRun:
    services: list[ServiceFuzz]
    members: MembersAfter

    @property
    def passed(self) -> bool:
        members = self.members
        return all(s.passed for s in self.services) and not members.seed_members_missing and not members.invalid


def fuzz_admin_apis(seconds: int, seed: int, workdir: Path) -> FuzzRun:
    data_dir = workdir / ".alliance"
    workdir.mkdir(parents=True, exist_ok=True)
    env = isolated_environment(data_dir)
    with platform_up(env, workdir / "alliance.log"):
        token = token_path(data_dir).read_text().strip()
        runs = [
            _schemathesis(service, int(env[f"ALLIANCE_{service.upper()}_PORT"]), token, seconds, seed, workdir)
            for service in SERVICES
        ]
        members = _members_after(int(env["ALLIANCE_MEMBERS_PORT"]), token)
    return FuzzRun(runs, members)


def _schemathesis(service: str, port: int, token: str, seconds: int, seed: int, workdir: Path) -> ServiceFuzz:
    reports = workdir / service
    reports.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(CONFIG), "--no-color",
        "run", f"http://127.0.0.1:{port}/openapi.json", "--checks", "all", "--max-time", str(seconds),
        "--seed", str(seed), "--report", "junit", "--report-dir", str(reports),
    ]
    output = reports / "schemathesis.txt"
    with output.open("wb") as out:
        finished = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=seconds + 300, check=False,
                                  env=os.environ | {"ALLIANCE_ADMIN_TOKEN": token})
    text = output.read_text(errors="replace")
    summary = text[text.find("SUMMARY") :] if "SUMMARY" in text else text[-3000:]
    return ServiceFuzz(service, finished.returncode == 0, summary, output)


def _members_after(port: int, token: str) -> MembersAfter:
    answer = httpx.get(f"http://127.0.0.1:{port}/admin/members", headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    members = {m["member_id"]: m for m in answer.json()}
    seeded = {m["id"] for m in yaml.safe_load(DEMO_SEED.read_text())["members"]}
    invalid: dict[str, str] = {}
    for member_id, member in members.items():
        stored = {k: member[k] for k in ("name", "region", "locale", "interest_categories", "min_risk_severity",
                                         "webhook_url") if member[k] is not None}
        try:
            MemberChanges.model_validate(stored)
        except ValidationError as error:
            invalid[member_id] = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return MembersAfter(sorted(seeded - members.keys()), len(members.keys() - seeded), invalid)
