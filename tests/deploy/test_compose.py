"""Static checks of the compose deploy, the image and the Grafana dashboards.

The compose file is validated against the Compose Specification's JSON schema
(tests/deploy/compose-spec.json: compose-spec/compose-spec, Apache-2.0; see tests/deploy/README.md).
KNOWN_METRICS (tests/deploy/metrics.py) is what the services' metrics modules register;
dashboards (and alert rules, see test_prometheus_rules.py) may use no other, and must show every
one of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.deploy.dashboards import (
    DASHBOARDS_DIR,
    load_dashboards,
    metric_names,
    panel_queries,
    unknown_metrics,
)
from tests.deploy.metrics import HISTOGRAMS, KNOWN_METRICS

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")
OPS_DOC = REPO / "docs" / "ops.md"

EXPECTED_DASHBOARDS = {
    "Alliance overview",
    "Procurement",
    "Notifications and risk",
    "Platform health",
}
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
ALLIANCE_SERVICES = {"members": 8081, "procurement": 8082, "notifications": 8083}
REQUIRED_VARIABLES = {
    "POSTGRES_PASSWORD",
    "ALLIANCE_ADMIN_TOKEN",
    "ALLIANCE_SEALING_KEYS",
    "ALLIANCE_SEED_FILE",
    "GRAFANA_ADMIN_PASSWORD",
    "KAFKA_ADMIN_PASSWORD",
    "KAFKA_PASSWORD_MEMBERS",
    "KAFKA_PASSWORD_PROCUREMENT",
    "KAFKA_PASSWORD_NOTIFICATIONS",
}
KAFKA_NODES = ("kafka-1", "kafka-2", "kafka-3")
BOOTSTRAP = "kafka-1:9092,kafka-2:9092,kafka-3:9092"
DUMMY_ENV = {name: f"test-{name.lower()}" for name in REQUIRED_VARIABLES} | {
    "ALLIANCE_SEED_FILE": "../seeds/demo.yaml"
}

# --- compose variable interpolation (the Compose Specification's syntax) ----------------------

_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.S)


class MissingVariable(Exception):
    pass


def _variables(value: str) -> Iterator[tuple[str, str | None]]:
    """(name, operator) of every variable a string refers to."""
    for m in _INTERPOLATION.finditer(value):
        if m["named"]:
            yield m["named"], None
        elif m["braced"] is not None:
            b = _BRACED.fullmatch(m["braced"])
            if not b:
                raise ValueError(f"invalid interpolation ${{{m['braced']}}} in {value!r}")
            yield b["name"], b["op"]


def interpolate_string(value: str, env: Mapping[str, str]) -> str:
    def substitute(m: re.Match) -> str:
        if m["escaped"]:
            return "$"
        if m["named"]:
            return env.get(m["named"], "")
        b = _BRACED.fullmatch(m["braced"])
        if not b:
            raise ValueError(f"invalid interpolation ${{{m['braced']}}}")
        name, op, arg = b["name"], b["op"], b["arg"]
        value = env.get(name)
        if op is None:
            return value or ""
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op == ":?":
            if not value:
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op == "?":
            if value is None:
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op == ":+":
            return arg if value else ""
        return arg if value is not None else ""  # "+"

    return _INTERPOLATION.sub(substitute, value)


def interpolate(node, env: Mapping[str, str]):
    if isinstance(node, str):
        return interpolate_string(node, env)
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    return node


def _strings(node) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose(raw_compose) -> dict:
    """The compose file as `docker compose config` would see it with the required variables set."""
    return interpolate(raw_compose, DUMMY_ENV)


@pytest.fixture(scope="module")
def schema_validator():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    # The schema declares draft 07 (as "https://json-schema.org/draft-07/schema", a spelling
    # jsonschema does not look up by itself).
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.fixture(scope="module")
def dashboards() -> list[tuple[Path, dict]]:
    return load_dashboards(DASHBOARDS_DIR)


def _bind_mounts(service: dict) -> list[dict]:
    return [v for v in service.get("volumes") or [] if isinstance(v, dict) and v["type"] == "bind"]


def _errors(validator, document) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.path)))
    ]


# --- the compose file -------------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification(raw_compose, compose, schema_validator):
    assert _errors(schema_validator, raw_compose) == []
    assert _errors(schema_validator, compose) == []


def test_schema_rejects_what_compose_rejects(schema_validator):
    broken = {"services": {"x": {"image": "busybox", "restart": 5, "helthcheck": {}}}}
    errors = _errors(schema_validator, broken)
    assert any("helthcheck" in e for e in errors)
    assert any(e.startswith("services/x/restart") for e in errors)


def test_compose_runs_only_with_the_required_variables(raw_compose):
    required = {
        name
        for value in _strings(raw_compose)
        for name, op in _variables(value)
        if op in (":?", "?")
    }
    assert required == REQUIRED_VARIABLES
    for missing in REQUIRED_VARIABLES:
        env = {k: v for k, v in DUMMY_ENV.items() if k != missing}
        with pytest.raises(MissingVariable, match=missing):
            interpolate(raw_compose, env)


def test_every_variable_is_documented(raw_compose):
    doc = OPS_DOC.read_text(encoding="utf-8")
    names = {name for value in _strings(raw_compose) for name, _ in _variables(value)}
    assert names >= REQUIRED_VARIABLES
    undocumented = sorted(n for n in names if f"`{n}`" not in doc)
    assert undocumented == [], "variables of deploy/compose.yaml not described in docs/ops.md"


def test_no_secret_is_written_inline(raw_compose):
    secretive = re.compile(r"PASSWORD|TOKEN|SECRET|_KEY\b", re.IGNORECASE)
    for name, service in raw_compose["services"].items():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        for key, value in environment.items():
            if not secretive.search(key) and "://" not in str(value):
                continue
            if "://" in str(value) and "@" not in str(value):
                continue  # a URL without credentials
            assert any(op in (":?", "?") for _, op in _variables(str(value))), (
                f"{name}.environment.{key} must take its secret from a required variable"
            )


def test_every_service_restarts_and_reports_health(compose):
    one_shot = {name for service in compose["services"].values()
                for name, when in (service.get("depends_on") or {}).items()
                if isinstance(when, dict) and when.get("condition") == "service_completed_successfully"}
    assert one_shot == {"provision"}
    assert compose["services"]["provision"]["restart"] == "no"
    for name, service in compose["services"].items():
        if name in one_shot:
            continue
        assert service.get("restart") in ("unless-stopped", "always"), name
        test = (service.get("healthcheck") or {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
        assert "logging" in service, name


def test_alliance_services(compose):
    services = compose["services"]
    for name, port in ALLIANCE_SERVICES.items():
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert service["command"] == ["serve", name, "--seed", "/etc/alliance/seed.yaml"]
        env = service["environment"]
        assert env["ALLIANCE_KAFKA_BOOTSTRAP"] == BOOTSTRAP
        assert env["ALLIANCE_KAFKA_SASL_USERNAME"] == f"alliance-{name}"
        assert env["ALLIANCE_KAFKA_SASL_PASSWORD"] == DUMMY_ENV[f"KAFKA_PASSWORD_{name.upper()}"]
        assert env["ALLIANCE_TOPIC_REPLICATION_FACTOR"] == 3
        assert env["ALLIANCE_DATABASE_URL"] == (
            f"postgresql://alliance:{DUMMY_ENV['POSTGRES_PASSWORD']}@postgres:5432/"
        )
        assert env["ALLIANCE_ADMIN_TOKEN"] == DUMMY_ENV["ALLIANCE_ADMIN_TOKEN"]
        assert env["ALLIANCE_HTTP_HOST"] == "0.0.0.0"
        seed = [v for v in _bind_mounts(service) if v["target"] == "/etc/alliance/seed.yaml"]
        assert len(seed) == 1 and seed[0]["type"] == "bind" and seed[0]["read_only"] is True
        assert seed[0]["source"] == DUMMY_ENV["ALLIANCE_SEED_FILE"]
        assert service["depends_on"] == {
            "provision": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
        }
        assert service["healthcheck"]["test"] == ["CMD", "alliance-healthcheck", name]
        assert any(str(p).endswith(f":{port}:{port}") for p in service["ports"])


def test_kafka_runs_three_kraft_nodes_with_sasl_and_acls(compose):
    start = (DEPLOY / "kafka/start.sh").read_text(encoding="utf-8")
    for name in KAFKA_NODES:
        node = compose["services"][name]
        assert node["image"].startswith("apache/kafka:")
        assert node["command"] == ["/bin/bash", "/etc/alliance/kafka-start.sh"]
        assert node["environment"]["KAFKA_NODE_ID"] == int(name[-1])
        assert node["environment"]["KAFKA_ADMIN_PASSWORD"] == DUMMY_ENV["KAFKA_ADMIN_PASSWORD"]
    for setting in ("auto.create.topics.enable=false", "default.replication.factor=3", "min.insync.replicas=2",
                    "allow.everyone.if.no.acl.found=false", "INTERNAL:SASL_PLAINTEXT",
                    "controller.quorum.voters=1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"):
        assert setting in start


def test_provision_makes_the_cluster_match_the_seed_before_the_services_start(compose):
    provision = compose["services"]["provision"]
    assert provision["command"] == ["kafka", "provision", "--seed", "/etc/alliance/seed.yaml"]
    assert provision["depends_on"] == {name: {"condition": "service_healthy"} for name in KAFKA_NODES}
    env = provision["environment"]
    assert env["ALLIANCE_KAFKA_BOOTSTRAP"] == BOOTSTRAP
    assert (env["ALLIANCE_KAFKA_SASL_USERNAME"], env["ALLIANCE_KAFKA_SASL_PASSWORD"]) == (
        "admin", DUMMY_ENV["KAFKA_ADMIN_PASSWORD"])
    for service in ALLIANCE_SERVICES:  # the services' passwords, under the names provision reads
        assert env[f"ALLIANCE_KAFKA_PASSWORD_ALLIANCE_{service.upper()}"] == DUMMY_ENV[f"KAFKA_PASSWORD_{service.upper()}"]


def test_postgres_creates_one_database_per_service(compose):
    postgres = compose["services"]["postgres"]
    assert postgres["image"].split(":")[0] == "postgres"
    assert postgres["image"].split(":")[1].split(".")[0] == "18"
    assert postgres["environment"]["POSTGRES_USER"] == "alliance"
    assert "postgres-data:/var/lib/postgresql" in postgres["volumes"]
    init = _bind_mounts(postgres)
    assert [v["target"].startswith("/docker-entrypoint-initdb.d/") for v in init] == [True]
    sql = (DEPLOY / init[0]["source"]).read_text(encoding="utf-8")
    created = re.findall(r"^\s*CREATE DATABASE\s+(\w+)\s*;", sql, re.IGNORECASE | re.MULTILINE)
    assert sorted(created) == sorted(f"alliance_{s}" for s in ALLIANCE_SERVICES)


def test_volumes_are_named_and_mounted_files_exist(compose):
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes") or []:
            if isinstance(volume, str):
                source = volume.split(":")[0]
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
            else:
                source, kind = volume["source"], volume["type"]
            if kind == "volume":
                used.add(source)
            elif source != DUMMY_ENV["ALLIANCE_SEED_FILE"]:
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
    assert used == declared


def test_prometheus_and_grafana_use_the_repository_configuration(compose):
    services = compose["services"]
    prometheus_mounts = {v["target"]: v["source"] for v in _bind_mounts(services["prometheus"])}
    assert prometheus_mounts["/etc/prometheus/prometheus.yml"] == "./prometheus/prometheus.yml"
    assert prometheus_mounts["/etc/prometheus/alerts.yml"] == "./prometheus/alerts.yml"
    grafana_mounts = {v["target"]: v["source"] for v in _bind_mounts(services["grafana"])}
    assert grafana_mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    dashboards_target = next(t for t, s in grafana_mounts.items() if s == "./grafana/dashboards")

    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    [datasource] = datasources["datasources"]
    assert datasource["uid"] == "prometheus" and datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((provisioning / "dashboards" / "alliance.yml").read_text())
    [provider] = providers["providers"]
    assert provider["options"]["path"] == dashboards_target
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_target + "/")
    assert (DASHBOARDS_DIR / home.rsplit("/", 1)[1]).is_file()


def test_prometheus_scrapes_the_three_services_every_5_seconds():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    interval = config["global"]["scrape_interval"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name, port in ALLIANCE_SERVICES.items():
        job = jobs[name]
        assert job.get("scrape_interval", interval) == "5s"
        assert job.get("metrics_path", "/metrics") == "/metrics"
        [sd] = job["dns_sd_configs"]
        assert sd["names"] == [name] and sd["port"] == port
    assert config["rule_files"] == ["alerts.yml"]


# --- the image --------------------------------------------------------------------------------


def test_dockerfile_builds_one_non_root_image_for_all_services():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert re.search(r"pip install --require-hashes --no-deps -r requirements\.lock", text)
    assert re.search(r"pip install --no-deps --no-build-isolation \.$", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*CMD \[\"alliance-healthcheck\"\]", text, re.M)
    assert re.search(r'^ENTRYPOINT \["alliance"\]$', text, re.M)
    assert "/health" in text


# --- dashboards -------------------------------------------------------------------------------


def test_dashboards_parse_with_unique_uids_and_titles(dashboards):
    assert dashboards, "no dashboards in deploy/grafana/dashboards"
    uids = [d["uid"] for _, d in dashboards]
    titles = [d["title"] for _, d in dashboards]
    assert len(set(uids)) == len(uids)
    assert len(set(titles)) == len(titles)
    assert set(titles) == EXPECTED_DASHBOARDS
    for path, d in dashboards:
        assert path.stem == d["uid"]
        assert "id" not in d or d["id"] is None, "provisioned dashboards carry no database id"


def _all_panels(panels):
    for panel in panels:
        yield panel
        yield from _all_panels(panel.get("panels") or [])


def test_panels_use_the_provisioned_datasource(dashboards):
    for _, d in dashboards:
        ids, titles = [], []
        for panel in _all_panels(d["panels"]):
            ids.append(panel["id"])
            titles.append(panel["title"])
            assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == DATASOURCE, panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "prometheus"
        assert len(set(ids)) == len(ids), f"{d['title']}: duplicate panel ids"
        assert len(set(titles)) == len(titles), f"{d['title']}: duplicate panel titles"


def test_queries_use_only_known_metrics(dashboards):
    problems = []
    for _, d in dashboards:
        for panel, expr in panel_queries(d):
            names = metric_names(expr)
            if not names:
                problems.append(f"{d['title']} / {panel}: selects no metric: {expr}")
            if unknown := unknown_metrics(expr, KNOWN_METRICS, HISTOGRAMS):
                problems.append(f"{d['title']} / {panel}: unknown {sorted(unknown)}: {expr}")
            if "$" in expr:
                problems.append(f"{d['title']} / {panel}: Grafana variable in {expr}")
    assert problems == []


def test_every_exported_metric_is_on_a_dashboard(dashboards):
    used = set()
    for _, d in dashboards:
        for _, expr in panel_queries(d):
            for name in metric_names(expr):
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                used.add(base if base in HISTOGRAMS else name)
    assert sorted(KNOWN_METRICS - used) == []


def test_histograms_are_queried_as_quantiles_over_summed_buckets(dashboards):
    for _, d in dashboards:
        for panel, expr in panel_queries(d):
            for h in HISTOGRAMS:
                if h in expr:
                    quantile = (
                        rf"histogram_quantile\(0\.\d+, sum by \(le(, \w+)*\) "
                        rf"\(rate\({h}_bucket\[\w+\]\)\)\)"
                    )
                    assert re.search(quantile, expr), f"{d['title']} / {panel}: {expr}"


def test_panel_queries_reach_into_collapsed_rows():
    dashboard = {
        "panels": [
            {"type": "stat", "title": "a", "targets": [{"expr": "up"}]},
            {
                "type": "row",
                "title": "r",
                "collapsed": True,
                "panels": [
                    {"type": "timeseries", "title": "b", "targets": [{"expr": "x"}, {"expr": "y"}]},
                ],
            },
            {"type": "text", "title": "c"},
        ]
    }
    assert panel_queries(dashboard) == [("a", "up"), ("b", "x"), ("b", "y")]


def test_metric_names_ignores_functions_labels_and_keywords():
    expr = (
        'histogram_quantile(0.99, sum by (le, topic) (rate(a_bucket{topic=~"x|y"}[5m])))'
        " / on(job) group_left max without (instance) (b offset 5m) or on() vector(1e3)"
        ' and absent(c{job="d"})'
    )
    assert metric_names(expr) == {"a_bucket", "b", "c"}
