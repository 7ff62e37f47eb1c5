"""Benchmarks of the running platform on the real broker and database: the admission stage
alone, and the pipeline from signed ERP requests into procurement's open demand; plus what
the other stages share: the bench's members and catalog, signed requests, counting rows,
where the CPU went, py-spy profiles and resident memory.

Each run uses a fresh topic prefix, and reports how deep its topics got (Tansu slows down
as a topic grows past ~80k records).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import asyncpg
import psutil
from aiokafka import AIOKafkaProducer

from shared import topics
from tests.support.erp import cloud_event, signed
from tests.support.kafka import kafka_producer
from tests.support.seeds import MEMBER_SECRETS, item, member, supplier, write_seed
from tests.support.services import Platform, ServiceProcess

BENCH_MEMBERS = tuple(f"m-bench-{n:02d}" for n in range(20))
SKUS = tuple(f"SKU-{n:04d}" for n in range(50))
BENCH_SUPPLIERS = ("s-bench-a", "s-bench-b")
OPEN_DEMAND = "purchase_requests"
"""Procurement's table of admitted requests (services/procurement/adapters/migrations)."""

Progress = Callable[[float, str], None]
"""(fraction done, what is happening): called while a stage runs."""


def bench_seed(path: Path, webhook_base: str | None = None) -> Path:
    """The bench's members and catalog; with `webhook_base`, each member is told at
    `<webhook_base>/<member_id>` (one endpoint per member, as in production)."""
    webhooks = {
        m: {"webhook": {"url": f"{webhook_base}/{m}", "secret": f"{m}-webhook-secret"}} if webhook_base else {}
        for m in BENCH_MEMBERS
    }
    return write_seed(
        path,
        [member(m, **webhooks[m]) for m in BENCH_MEMBERS],
        [supplier(BENCH_SUPPLIERS[0], [item(sku, [(1, "10.00"), (100, "9.00"), (1000, "8.00")], capacity=10**9) for sku in SKUS]),
         supplier(BENCH_SUPPLIERS[1], [item(sku, [(1, "10.50"), (500, "8.50")], capacity=10**9) for sku in SKUS])],
    )


def signed_request(n: int, prefix: str = "b") -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Request `<prefix>-<n>`, signed now by its member (members and SKUs taken round-robin)."""
    member_id = BENCH_MEMBERS[n % len(BENCH_MEMBERS)]
    value = cloud_event("purchase_request.submitted", f"erp/{member_id}", {
        "request_id": f"{prefix}-{n}", "member_id": member_id, "sku": SKUS[n % len(SKUS)], "quantity": 1 + n % 40,
        "needed_by": "2027-06-30"})
    secret = MEMBER_SECRETS.get(member_id, f"{member_id}-erp-secret")
    return member_id.encode(), value, signed(secret, value)


async def prefill(bootstrap: str, topic: str, count: int, start: int = 0) -> float:
    """Publish `count` signed requests as fast as the broker takes them; returns records/s."""
    began = time.perf_counter()
    async with kafka_producer(bootstrap) as producer:
        pending = []
        for n in range(start, start + count):
            key, value, headers = signed_request(n)
            pending.append(await producer.send(topic, value, key=key, headers=headers))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    return count / (time.perf_counter() - began)


async def wait_for_count(
    url: str,
    query: str,
    target: int,
    timeout: float,
    on_count: Callable[[int], None] | None = None,
    interval: float = 0.02,
) -> tuple[int, float]:
    """Rows counted from the first one seen to `target`, and the seconds that took: the rate
    once consuming, without the consumer group's join (about 5 s on Tansu). Each count costs
    the database a scan: a longer `interval` disturbs a throughput measurement less."""
    conn = await asyncpg.connect(url)
    began = time.perf_counter()
    first: tuple[int, float] | None = None
    try:
        while (count := await conn.fetchval(query)) < target:
            if first is None and count > 0:
                first = (count, time.perf_counter())
            if on_count:
                on_count(count)
            if time.perf_counter() - began > timeout:
                raise TimeoutError(f"{query!r} did not reach {target} in {timeout:.0f} s")
            await asyncio.sleep(interval)
    finally:
        await conn.close()
    first_count, first_at = first or (0, began)
    return target - first_count, time.perf_counter() - first_at


async def bench_admission(
    kafka_bootstrap: str,
    server_url: str,
    workdir: Path,
    requests: int = 60_000,
    progress: Progress | None = None,
    profile_dir: Path | None = None,
) -> dict[str, object]:
    """The members service alone: a backlog of signed requests, admitted as fast as it can.
    With `profile_dir`, py-spy samples the service meanwhile (see Profiler)."""
    running = Platform(kafka_bootstrap, server_url, workdir)
    await running.prepare()
    try:
        if progress:
            progress(0, f"pre-filling {requests:,} signed requests")
        produce_rate = await prefill(kafka_bootstrap, running.topic(topics.PURCHASE_REQUESTS), requests)
        service = await running.start("members", bench_seed(workdir / "bench-seed.yaml"))
        pid = service.process.pid if service.process else 0
        profiler = Profiler(profile_dir, "admission")
        profiler.start({"members": service})
        cpu = CpuSplit({"members": service})
        cpu.start()

        def admitted(count: int) -> None:
            if progress:
                progress(count / requests, f"{count:,} of {requests:,} admitted")

        try:
            measured, seconds = await wait_for_count(
                running.database_url("members"), "SELECT count(*) FROM admitted_requests", requests, timeout=600,
                on_count=admitted, interval=0.1,
            )
        finally:
            profiles = profiler.stop()
        cpu_cores = cpu.stop()
        cost = cpu_us_per_request(cpu.cpu_seconds, requests)
        batches = await records_per_batch({"members": service})
        return {
            "records_per_batch": batches,
            "requests": requests, "seconds": round(seconds, 2), "requests_per_s": round(measured / seconds),
            "topic_depth": requests, "producer_records_per_s": round(produce_rate), "members_rss_mb": service_rss(pid),
            "cpu_cores": cpu_cores, "cpu_us_per_request": cost, "profiles": profiles}
    finally:
        running.stop_all()
        await running.drop()


class CpuSplit:
    """Cores each part of the machine kept busy during a window: the stage's services, the
    embedded broker and PostgreSQL (children of this process), this process (the bench's
    producers and receivers), and everything else on the machine (other work sharing the CPU)."""

    def __init__(self, services: dict[str, ServiceProcess]) -> None:
        self._labels = {s.process.pid: name for name, s in services.items() if s.process}
        self._before: dict[int, tuple[str, float]] = {}
        self._machine_before = 0.0
        self._began = 0.0
        self.cpu_seconds: dict[str, float] = {}
        """CPU seconds by part over the window, once stopped."""

    def start(self) -> None:
        self._before = self._sample()
        self._machine_before = _machine_busy_seconds()
        self._began = time.perf_counter()

    def stop(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self._began
        cores: Counter[str] = Counter()
        for pid, (label, seconds) in self._sample().items():
            cores[label] += seconds - self._before.get(pid, (label, 0.0))[1]
        self.cpu_seconds = dict(cores)
        split = {label: round(seconds / elapsed, 2) for label, seconds in sorted(cores.items())}
        machine = (_machine_busy_seconds() - self._machine_before) / elapsed
        split["elsewhere"] = round(max(machine - sum(cores.values()) / elapsed, 0.0), 2)
        return split

    def _sample(self) -> dict[int, tuple[str, float]]:
        me = psutil.Process()
        sample = {}
        for process in [me, *me.children(recursive=True)]:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    sample[process.pid] = (self._label(process, me), times.user + times.system)
            except psutil.Error:
                continue
        return sample

    def _label(self, process: psutil.Process, me: psutil.Process) -> str:
        if process.pid in self._labels:
            return self._labels[process.pid]
        if process.pid == me.pid:
            return "bench"
        name = process.name()
        if "tansu" in name:
            return "broker"
        if "postgres" in name:
            return "postgres"
        return "other"


async def records_per_batch(services: dict[str, ServiceProcess]) -> dict[str, float]:
    """Each service's average consumed batch since it started (its /metrics): small batches
    at a low rate mean the per-batch costs (transaction, relay round) dominate its CPU."""
    averages = {}
    for name, service in services.items():
        batches = records = 0.0
        for sample in await service.metrics():
            if sample.name == "alliance_handler_duration_seconds_count":
                batches += sample.value
            elif sample.name == "alliance_events_consumed_total":
                records += sample.value
        if batches:
            averages[name] = records / batches
    return averages


def cpu_us_per_request(cpu_seconds: dict[str, float], requests: int) -> dict[str, float]:
    """What one request cost each part of the platform in CPU time (µs), whatever else shared the CPU."""
    parts = {label: seconds for label, seconds in cpu_seconds.items() if label not in ("bench", "other")}
    return {label: round(seconds / requests * 1e6) for label, seconds in sorted(parts.items())} if requests else {}


def _machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


class Profiler:
    """py-spy on a stage's service processes while it measures, without pausing them; each
    service's samples go to `<directory>/<stage>-<service>.pyspy` (collapsed stacks). With no
    directory it does nothing."""

    def __init__(self, directory: Path | None, stage: str) -> None:
        self._directory = directory
        self._stage = stage
        self._samplers: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    def start(self, services: dict[str, ServiceProcess]) -> None:
        if self._directory is None:
            return
        py_spy = Path(sys.executable).with_name("py-spy")
        for name, service in services.items():
            assert service.process is not None
            output = self._directory / f"{self._stage}-{name}.pyspy"
            command = [str(py_spy), "record", "--pid", str(service.process.pid), "--rate", "100",
                       "--nonblocking", "--format", "raw", "--output", str(output)]
            sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self._samplers[name] = (sampler, output)

    def stop(self) -> dict[str, object]:
        """Ctrl-C makes py-spy write what it sampled; returns each service's hottest functions."""
        profiles: dict[str, object] = {}
        for name, (sampler, output) in self._samplers.items():
            sampler.send_signal(signal.SIGINT)
            try:
                _, errors = sampler.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                sampler.kill()
                raise RuntimeError(f"py-spy on {name} did not stop within 30 s") from None
            if not output.exists():
                raise RuntimeError(f"py-spy on {name} failed: {errors.decode(errors='replace')[-500:]}")
            profiles[name] = {"file": str(output), **profile_top(output)}
        self._samplers.clear()
        return profiles


IDLE_FRAMES = ("EpollSelector.select (selectors.py)", "Condition.wait (threading.py)")
"""Where a sampled thread waits rather than works: counted as idle, left out of the rankings."""
OWN_CODE = ("services/", "shared/")


def profile_top(collapsed: Path, entries: int = 15) -> dict[str, object]:
    """Shares of the busy samples: `self` by the function on top of the stack, `own_code_total` by
    each function of the project's own code anywhere in it (the service's entry frames, in every
    sample, left out). A function's frames at different lines count as one."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = idle = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function_of(frame) for frame in stack.split(";")]
        samples += count
        if frames[-1] in IDLE_FRAMES:
            idle += count
            continue
        own[frames[-1]] += count
        for function in {f for f in frames if _is_own_code(f)}:
            inclusive[function] += count
    busy = samples - idle

    def shares(counter: Counter[str]) -> list[dict[str, object]]:
        return [{"function": f, "share": round(n / busy, 4)} for f, n in counter.most_common(entries)] if busy else []

    return {"samples": samples, "idle_share": round(idle / samples, 4) if samples else 0.0,
            "self": shares(own), "own_code_total": shares(inclusive)}


def _is_own_code(function: str) -> bool:
    location = function.rpartition(" (")[2]
    return location.startswith(OWN_CODE) and not location.startswith("shared/cli/")


def _function_of(frame: str) -> str:
    """`admit_batch (/work/main/services/members/service_layer/admission.py:58)` ->
    `admit_batch (services/members/service_layer/admission.py)`."""
    name, _, location = frame.partition(" (")
    path = location.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", f"{Path(__file__).resolve().parents[1]}/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})" if path else name


async def bench_platform(
    kafka_bootstrap: str,
    server_url: str,
    workdir: Path,
    duration: float = 60.0,
    max_backlog: int = 30_000,
    progress: Progress | None = None,
    profile_dir: Path | None = None,
) -> dict[str, object]:
    """Signed ERP requests -> members -> procurement's open demand, with a producer publishing
    as fast as the platform takes them for `duration` seconds (from the first request counted in
    procurement's database). The producer stays at most `max_backlog` requests ahead, so the
    pipeline is always saturated but signatures never go stale and the topics stay as shallow as
    the rate allows. At the end every published request must be in open demand exactly once."""
    running = Platform(kafka_bootstrap, server_url, workdir)
    await running.prepare(BENCH_SUPPLIERS)
    try:
        seed = bench_seed(workdir / "platform-seed.yaml")
        services = {name: await running.start(name, seed) for name in ("members", "procurement")}
        counts = await asyncpg.connect(running.database_url("procurement"))
        try:
            counter = _Counter(services["procurement"], running.topic(topics.ADMITTED_REQUESTS))
            producer = _ContinuousProducer(kafka_bootstrap, running.topic(topics.PURCHASE_REQUESTS), counter, max_backlog)
            publishing = asyncio.create_task(producer.run())
            profiler = Profiler(profile_dir, "platform")
            profiler.start(services)
            cpu = CpuSplit(services)
            try:
                window = await _measure_window(counter, publishing, duration, progress, cpu)
            finally:
                profiles = profiler.stop()
                producer.stop()
                await publishing
            published = producer.published
            if progress:
                progress(1, f"draining: {published:,} published")
            await wait_for_count(running.database_url("procurement"), f"SELECT count(*) FROM {OPEN_DEMAND}", published, timeout=180,
                                 interval=0.25)
            once = await _each_exactly_once(counts, published)
        finally:
            await counts.close()
        rss = {name: service_rss(s.process.pid if s.process else 0) for name, s in services.items()}
        batches = await records_per_batch(services)
        return {
            **window,
            "records_per_batch": batches,
            "published": published,
            "producer_paused_s": round(producer.paused_s, 1),
            "counted": once["rows"],
            "exactly_once": once["exactly_once"],
            "max_backlog": max_backlog,
            "topic_depth": {topics.PURCHASE_REQUESTS: published, topics.ADMITTED_REQUESTS: published,
                            topics.MEMBER_NOTICES: published},
            "rss_mb": rss,
            "profiles": profiles,
        }
    finally:
        running.stop_all()
        await running.drop()


class _Counter:
    """Requests procurement has taken into open demand, read from its own /metrics (the
    admitted topic's `processed` count, incremented after each commit) at most every `interval`
    seconds; `at` is when the current `value` was read. A count(*) over the growing table would
    cost the database a parallel scan each time, charged to the platform being measured; the
    database is counted once, at the end, for "nothing lost"."""

    def __init__(self, procurement: ServiceProcess, topic: str, interval: float = 0.25) -> None:
        self._procurement = procurement
        self._processed = {"topic": topic, "outcome": "processed"}
        self._interval = interval
        self.value = 0
        self.at = 0.0
        self._lock = asyncio.Lock()

    async def fresh(self) -> int:
        async with self._lock:
            if time.perf_counter() - self.at >= self._interval:
                samples = await self._procurement.metrics()
                self.value = next((int(s.value) for s in samples
                                   if s.name == "alliance_events_consumed_total" and s.labels == self._processed), 0)
                self.at = time.perf_counter()
            return self.value


class _ContinuousProducer:
    """An ERP fleet publishing signed requests back to back, pausing while the platform is
    `max_backlog` behind."""

    WINDOW = 2_000

    def __init__(self, bootstrap: str, topic: str, counter: _Counter, max_backlog: int) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._counter = counter
        self._max_backlog = max_backlog
        self._stopping = asyncio.Event()
        self.published = 0
        self.paused_s = 0.0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=False, acks="all",
                                    linger_ms=5, max_batch_size=256 * 1024)
        await producer.start()
        try:
            while not self._stopping.is_set():
                waited = time.perf_counter()
                while self.published - await self._counter.fresh() > self._max_backlog and not self._stopping.is_set():
                    await asyncio.sleep(0.05)
                self.paused_s += time.perf_counter() - waited
                acks = []
                for n in range(self.published, self.published + self.WINDOW):
                    key, value, headers = signed_request(n)
                    acks.append(await producer.send(self._topic, value, key=key, headers=headers))
                await asyncio.gather(*acks)
                self.published += len(acks)
        finally:
            await producer.stop()


async def _measure_window(
    counter: _Counter, publishing: asyncio.Task[None], duration: float, progress: Progress | None, cpu: CpuSplit
) -> dict[str, object]:
    """Requests/s over `duration` seconds from the first one counted, plus the slowest and
    fastest 5-second stretches (sustained means no collapse along the way) and where the CPU went."""
    producing_since = time.perf_counter()
    while (first := await counter.fresh()) == 0:
        if publishing.done():
            publishing.result()
        if time.perf_counter() - producing_since > 120:
            raise TimeoutError("nothing reached procurement's open demand within 120 s")
        await asyncio.sleep(0.05)
    began = counter.at
    cpu.start()
    samples = [(began, first)]
    while time.perf_counter() - began < duration:
        if publishing.done():
            publishing.result()
        await asyncio.sleep(0.5)
        count = await counter.fresh()
        samples.append((counter.at, count))
        if progress:
            elapsed = samples[-1][0] - began
            rate = (samples[-1][1] - first) / elapsed
            progress(min(elapsed / duration, 1), f"{samples[-1][1]:,} in open demand, {rate:,.0f}/s")
    ended, last = samples[-1]
    cpu_cores = cpu.stop()
    cost = cpu_us_per_request(cpu.cpu_seconds, last - first)
    stretches = _stretch_rates(samples, 5.0)
    return {
        "seconds": round(ended - began, 2),
        "requests_in_window": last - first,
        "requests_per_s": round((last - first) / (ended - began)),
        "slowest_5s_per_s": round(min(stretches)) if stretches else None,
        "fastest_5s_per_s": round(max(stretches)) if stretches else None,
        "first_counted_after_s": round(began - producing_since, 1),
        "cpu_cores": cpu_cores,
        "cpu_us_per_request": cost,
    }


def _stretch_rates(samples: list[tuple[float, int]], length: float) -> list[float]:
    """The rate over each stretch of at least `length` seconds ending at a sample."""
    rates, start = [], 0
    for end_at, end_count in samples:
        while start + 1 < len(samples) and samples[start + 1][0] <= end_at - length:
            start += 1
        start_at, start_count = samples[start]
        if end_at - start_at >= length:
            rates.append((end_count - start_count) / (end_at - start_at))
    return rates


async def _each_exactly_once(conn: asyncpg.Connection, published: int) -> dict[str, object]:
    """Request ids are b-0 .. b-(published-1), one member each: all of them present, none twice."""
    rows, distinct, lowest, highest = await conn.fetchrow(
        f"SELECT count(*), count(DISTINCT request_id), min(substr(request_id, 3)::bigint),"
        f" max(substr(request_id, 3)::bigint) FROM {OPEN_DEMAND}"
    )
    exactly_once = rows == distinct == published and lowest == 0 and highest == published - 1
    return {"rows": rows, "exactly_once": exactly_once}


def service_rss(pid: int) -> float:
    """Resident memory of a service process in MiB (0 when it is gone)."""
    try:
        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except psutil.Error:
        return 0.0
