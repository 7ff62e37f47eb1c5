"""`python -m chaos` (`make chaos`): the platform under load from outside ERPs, suppliers and
webhook receivers, with faults injected, checked against a fault-free run of the same inputs.

Two runs at once, each on a fresh platform (`alliance run`, embedded broker, a PostgreSQL the
harness owns): one left alone, one under faults. Exit code 0 only when every check passes.
See chaos/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
from datetime import date
from pathlib import Path

from rich.console import Console

from chaos import report
from chaos.checks import same_orders, same_receipts
from chaos.run import FULL, QUICK, run
from chaos.scenario import workload

SUPPLIERS = 8


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, shorter faults (for the tests)")
    parser.add_argument("--seed", type=int, default=9, help="random seed of the workload and the faults")
    parser.add_argument("--dir", type=Path, default=Path(".alliance/chaos"), help="data and logs of both runs")
    parser.add_argument("--broker", choices=("tansu", "kafka"), default="tansu",
                        help="the embedded broker, or Apache Kafka (three brokers under faults, losing one)")
    parser.add_argument("--summary-json", type=Path, help="also write the figures and checks to this file")
    return parser.parse_args(argv)


async def main_async(options: argparse.Namespace, console: Console) -> bool:
    profile = QUICK if options.quick else FULL
    load = workload(options.seed, profile.members, SUPPLIERS, profile.requests, date.today())
    directory = options.dir.resolve()
    console.print(
        f"{len(load.requests)} requests from {profile.members} members, sent twice at once: on a platform without"
        f" faults and on one with faults ({profile.name} mode, {options.broker}). Data and logs in {directory}"
    )
    reference, chaos = await asyncio.gather(
        run(profile, load, directory / "reference", None, lambda text: console.print(f"fault-free  {text}"),
            options.broker),
        run(profile, load, directory / "faults", random.Random(options.seed),
            lambda text: console.print(f"faults      {text}"), options.broker),
    )
    comparison = same_orders(reference.books, chaos.books)
    chaos.checks.append(same_receipts(reference.evidence, chaos.evidence))
    report.show(console, profile, reference, chaos, comparison)
    if options.summary_json:
        options.summary_json.write_text(json.dumps(report.summary(profile, reference, chaos, comparison), indent=2))
    return report.passed(reference, chaos, comparison)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    # the harness's own Kafka clients retry through every fault; their complaints (a lost broker
    # is unreachable until its partitions have moved) would drown the report
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    if options.broker == "kafka":
        from shared.runtime.kafka_cluster import KafkaToolsMissing, require_tools

        try:
            require_tools()
        except KafkaToolsMissing as missing:
            print(missing, file=sys.stderr)
            return 2
    console = Console() if sys.stdout.isatty() else Console(width=110)
    return 0 if asyncio.run(main_async(options, console)) else 1


if __name__ == "__main__":
    sys.exit(main())
