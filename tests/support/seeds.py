"""Small seed files for tests, written in the contract's seed format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MEMBER_SECRETS = {"m-huber": "huber-erp-secret", "m-maier": "maier-erp-secret", "m-berg": "berg-erp-secret"}


def member(member_id: str, region: str = "DE", status: str = "active", **extra: Any) -> dict[str, Any]:
    return {
        "id": member_id,
        "name": f"{member_id} GmbH",
        "erp_secret": MEMBER_SECRETS.get(member_id, f"{member_id}-erp-secret"),
        "email": f"einkauf@{member_id}.example",
        "region": region,
        "status": status,
        **extra,
    }


def supplier(supplier_id: str, skus: list[dict[str, Any]], regions=("DE", "AT"), lead_time_days: int = 3) -> dict[str, Any]:
    return {
        "id": supplier_id,
        "name": f"{supplier_id} AG",
        "secret": f"{supplier_id}-secret",
        "regions": list(regions),
        "lead_time_days": lead_time_days,
        "catalog": skus,
    }


def item(sku: str, tiers: list[tuple[int, str]], capacity: int = 10_000, moq: int = 1, category: str = "wood") -> dict[str, Any]:
    return {
        "sku": sku,
        "name": f"Item {sku}",
        "category": category,
        "unit": "piece",
        "capacity_per_cycle": capacity,
        "min_order_quantity": moq,
        "tiers": [{"min_quantity": q, "unit_price": p} for q, p in tiers],
    }


def write_seed(path: Path, members: list[dict[str, Any]], suppliers: list[dict[str, Any]], interval: int = 3600) -> Path:
    path.write_text(yaml.safe_dump({
        "cycle": {"interval_seconds": interval, "max_supplier_share": 0.7},
        "members": members,
        "suppliers": suppliers,
    }))
    return path
