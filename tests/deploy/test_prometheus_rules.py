"""Prometheus configuration and alert rules: promtool's own checks and unit tests, plus what
promtool does not check (annotations, runbook anchors in docs/ops.md, metric names).

promtool comes with Debian's `prometheus` package. Without it the promtool tests are skipped,
except under CI (the CI environment variable set), where they fail: CI installs the package.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.dashboards import all_dashboard_queries, unknown_metrics
from tests.deploy.metrics import HISTOGRAMS, KNOWN_METRICS

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "alerts.yml"
RULE_TESTS = PROMETHEUS_DIR / "alerts_test.yml"
OPS_DOC = REPO / "docs" / "ops.md"

EXPECTED_ALERTS = {
    "ServiceDown",
    "ConsumerLagGrowing",
    "OutboxBacklogOld",
    "DeadLettersGrowing",
    "QuarantineSpike",
    "WebhookFailureRatioHigh",
    "OrdersUnanswered",
    "DeliveriesNotDispatched",
    "DispatchesNotReceived",
    "NoticesDead",
    "RiskBufferBelowHalfTarget",
}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool not found: apt-get install prometheus (Debian's package has it)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must have it", pytrace=False)
        pytest.skip(message)
    return path


def _run(promtool: str, *args: str, cwd: Path = PROMETHEUS_DIR) -> str:
    result = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def test_promtool_check_config(promtool):
    _run(promtool, "check", "config", CONFIG.name)


def test_promtool_check_rules(promtool):
    output = _run(promtool, "check", "rules", RULES.name)
    assert f"{len(EXPECTED_ALERTS)} rules found" in output


def test_promtool_test_rules(promtool):
    _run(promtool, "test", "rules", RULE_TESTS.name)


def test_dashboard_queries_are_valid_promql(promtool, tmp_path):
    """promtool parses every dashboard query, each written as a recording rule."""
    queries = all_dashboard_queries()
    assert queries
    rules = {
        "groups": [
            {
                "name": "dashboard-queries",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": expr}
                    for i, (_, _, expr) in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    output = _run(promtool, "check", "rules", str(path), cwd=tmp_path)
    assert f"{len(queries)} rules found" in output


# --- what promtool does not check -------------------------------------------------------------


def _alert_rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _github_anchors(markdown: str) -> set[str]:
    """Anchors GitHub gives the headings of a Markdown document (and explicit <a id> anchors)."""
    anchors = set(re.findall(r'<a (?:id|name)="([^"]+)"', markdown))
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_the_expected_alerts_exist_once():
    names = [rule["alert"] for rule in _alert_rules()]
    assert sorted(names) == sorted(EXPECTED_ALERTS)


def test_alerts_are_annotated_with_a_runbook_in_ops_doc():
    anchors = _github_anchors(OPS_DOC.read_text(encoding="utf-8"))
    for rule in _alert_rules():
        annotations = rule.get("annotations") or {}
        assert {"summary", "description", "runbook"} <= set(annotations), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        runbook = annotations["runbook"]
        assert runbook == f"docs/ops.md#{rule['alert'].lower()}", rule["alert"]
        assert runbook.split("#", 1)[1] in anchors, f"docs/ops.md has no section {runbook}"


def test_alert_rules_use_only_known_metrics():
    for rule in _alert_rules():
        assert unknown_metrics(rule["expr"], KNOWN_METRICS, HISTOGRAMS) == set(), rule["alert"]


def test_every_alert_has_a_firing_and_a_quiet_unit_test():
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    assert tests["rule_files"] == [RULES.name]
    fires, quiet = set(), set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test") or []:
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert sorted(EXPECTED_ALERTS - fires) == [], "alerts never tested firing"
    assert sorted(EXPECTED_ALERTS - quiet) == [], "alerts never tested quiet"
