"""Reading the Grafana dashboards in deploy/grafana/dashboards/ and the PromQL in them.

`panel_queries` and `all_dashboard_queries` give every query a dashboard would send, so tests
can check them statically (tests/deploy/test_compose.py) and run them against a Prometheus that
scrapes a live platform (the end-to-end tests).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO / "deploy" / "grafana" / "dashboards"


def _panels(panels: list[dict]) -> Iterator[dict]:
    """Every panel, depth first; a row's own panels (those of a collapsed row) follow the row."""
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])


def panel_queries(dashboard: dict) -> list[tuple[str, str]]:
    """(panel title, PromQL expression) of every query of every panel, rows' panels included."""
    out: list[tuple[str, str]] = []
    for panel in _panels(dashboard.get("panels") or []):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if expr:
                out.append((panel.get("title", ""), expr))
    return out


def load_dashboards(directory: str | Path = DASHBOARDS_DIR) -> list[tuple[Path, dict]]:
    """(path, parsed JSON) of every *.json in the directory, sorted by file name."""
    return [
        (p, json.loads(p.read_text(encoding="utf-8")))
        for p in sorted(Path(directory).glob("*.json"))
    ]


def all_dashboard_queries(directory: str | Path = DASHBOARDS_DIR) -> list[tuple[str, str, str]]:
    """(dashboard title, panel title, expression) of every query in every dashboard file."""
    return [
        (dashboard.get("title", path.stem), panel, expr)
        for path, dashboard in load_dashboards(directory)
        for panel, expr in panel_queries(dashboard)
    ]


# --- metric names referenced by a PromQL expression ------------------------------------------

_KEYWORDS = frozenset(
    # aggregation operators and their modifiers, set operators, literals
    "sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk "
    "limit_ratio by without on ignoring group_left group_right bool offset "
    "and or unless atan2 inf nan".split()
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_OFFSET = re.compile(r"\boffset\s+-?[0-9a-z]+", re.IGNORECASE)
_IDENT = re.compile(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """Names of the metrics an expression selects (function names, keywords and labels aside).

    A selector written only as `{__name__="x"}` is reported by that name too.
    """
    names = set(re.findall(r'__name__\s*=\s*"([^"]+)"', expr))
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    for name, call in _IDENT.findall(text):
        if call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def unknown_metrics(
    expr: str, known: set[str] | frozenset[str], histograms: set[str] | frozenset[str]
) -> set[str]:
    """Metric names in `expr` neither in `known` nor a series of a histogram in `histograms`."""
    unknown = set()
    for name in metric_names(expr):
        if name in known:
            continue
        if any(name == h + suffix for h in histograms for suffix in HISTOGRAM_SUFFIXES):
            continue
        unknown.add(name)
    return unknown
