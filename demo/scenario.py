"""Who takes part in the demo, generated from one random seed: German and Austrian craft
businesses buying building supplies from a few wholesalers. The same seed gives the same
members, suppliers, catalogs and secrets, so a run can be repeated and compared.

Tiers start at a few times what one firm typically orders, so a firm alone mostly pays the
first tier and the alliance's joint volume reaches the next ones: that difference is the
savings the demo shows.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    unit: str
    list_price: Decimal
    typical_quantity: int
    """What one firm orders at a time."""


# fmt: off
_PRODUCT_ROWS = (  # sku, name, category, unit, list price, typical quantity
    ("BOARD-BIRCH-18MM", "Birkensperrholz 18 mm, 2500 x 1250 mm", "wood", "piece", "58.90", 12),
    ("MDF-19MM", "MDF-Platte 19 mm, 2800 x 2070 mm", "wood", "piece", "34.20", 15),
    ("BEAM-KVH-60X120", "Konstruktionsvollholz Fichte 60 x 120 mm, 5 m", "wood", "piece", "21.40", 30),
    ("OSB3-22MM", "OSB/3 Verlegeplatte 22 mm, Nut und Feder", "wood", "piece", "18.90", 25),
    ("STEEL-FLAT-40X5", "Flachstahl S235 40 x 5 mm, 6 m", "metal", "piece", "18.70", 20),
    ("STEEL-TUBE-40X40X3", "Quadratrohr S235 40 x 40 x 3 mm, 6 m", "metal", "piece", "39.50", 12),
    ("SCREW-SPAX-5X60-200", "Spanplattenschraube 5 x 60 mm, Pack à 200", "metal", "pack", "12.90", 20),
    ("BOLT-M12X80-50", "Sechskantschraube M12 x 80, 8.8 verzinkt, Pack à 50", "metal", "pack", "16.40", 10),
    ("CABLE-NYM-3X1.5-100", "Mantelleitung NYM-J 3 x 1,5 mm², Ring 100 m", "electrical", "ring", "79.00", 6),
    ("CABLE-NYM-5X2.5-50", "Mantelleitung NYM-J 5 x 2,5 mm², Ring 50 m", "electrical", "ring", "96.00", 4),
    ("SOCKET-SCHUKO-WHITE", "Schutzkontakt-Steckdose Unterputz, reinweiß", "electrical", "piece", "3.85", 60),
    ("RCD-40A-30MA", "FI-Schutzschalter 40 A, 30 mA, 4-polig", "electrical", "piece", "38.90", 6),
    ("LED-PANEL-625", "LED-Panel 625 x 625 mm, 36 W, 4000 K", "electrical", "piece", "29.50", 15),
    ("PIPE-CU-15MM", "Kupferrohr 15 x 1 mm, halbhart, 5 m", "sanitary", "piece", "44.80", 15),
    ("PRESS-FITTING-15-ELBOW", "Pressfitting Bogen 90° 15 mm, Kupfer", "sanitary", "piece", "2.45", 100),
    ("WC-WALL-HUNG-SET", "Wand-WC spülrandlos mit Softclose-Sitz", "sanitary", "piece", "189.00", 3),
    ("RADIATOR-22-600X1000", "Flachheizkörper Typ 22, 600 x 1000 mm", "sanitary", "piece", "142.00", 3),
    ("PIPE-PEX-16X2-200", "Mehrschichtverbundrohr 16 x 2 mm, Rolle 200 m", "sanitary", "roll", "219.00", 2),
    ("ROOF-TILE-FRANKFURT", "Betondachstein Frankfurter Pfanne, anthrazit", "roofing", "piece", "0.98", 800),
    ("UNDERLAY-ROOF-75M2", "Unterdeckbahn diffusionsoffen, Rolle 75 m²", "roofing", "roll", "89.00", 4),
    ("GUTTER-ZINC-333", "Dachrinne Titanzink halbrund 333 mm, 3 m", "roofing", "piece", "24.60", 10),
    ("INSUL-MW-035-100", "Mineralwolle WLG 035, 100 mm", "insulation", "m2", "6.90", 120),
    ("DRYWALL-GKB-12.5", "Gipskartonplatte GKB 12,5 mm, 2000 x 1250 mm", "insulation", "piece", "7.40", 60),
)
# fmt: on
PRODUCTS = tuple(
    Product(sku, name, category, unit, Decimal(price), typical)
    for sku, name, category, unit, price, typical in _PRODUCT_ROWS
)


@dataclass(frozen=True)
class SupplierProfile:
    id: str
    name: str
    regions: tuple[str, ...]
    lead_time_days: int
    categories: tuple[str, ...]


SUPPLIER_PROFILES = (
    SupplierProfile("s-holz-sued", "Holzhandel Süd AG", ("DE", "AT"), 3, ("wood",)),
    SupplierProfile("s-nordholz", "Nordholz Plattenwerk GmbH", ("DE",), 5, ("wood", "insulation")),
    SupplierProfile("s-stahlkontor", "Stahlkontor Rhein-Main GmbH", ("DE", "AT"), 4, ("metal",)),
    SupplierProfile("s-elektro-alpen", "ElektroGroßhandel Alpen KG", ("AT", "DE"), 2, ("electrical",)),
    SupplierProfile("s-elektro-nord", "Elektro-Fachgroßhandel Nord GmbH", ("DE",), 3, ("electrical",)),
    SupplierProfile("s-sanitaer-west", "Sanitär-Fachgroßhandel West GmbH", ("DE", "AT"), 6, ("sanitary",)),
    SupplierProfile(
        "s-dachbaustoffe", "Dachbaustoffe Bayern GmbH & Co. KG", ("DE", "AT"), 5, ("roofing", "insulation")
    ),
    SupplierProfile(
        "s-baustoff-union",
        "Baustoff-Union Österreich GmbH",
        ("AT", "DE"),
        7,
        ("wood", "metal", "sanitary", "roofing", "insulation"),
    ),
)


DOCUMENTS_BY_INDEX = {0: "peppol-bis3", 2: "opentrans-2.1"}
"""The suppliers that speak their own standard (docs/suppliers.md); the others take JSON."""
ALLIANCE = {
    "name": "Einkaufsverbund Handwerk Süd eG",
    "peppol_id": "0088:4000001000005",
    "vat_id": "DE123456789",
    "address": {"street": "Hafenstraße 1", "city": "München", "postal_code": "80331", "country": "DE"},
}
"""The alliance itself, the buyer in every order document."""


@dataclass(frozen=True)
class Trade:
    id: str
    names: dict[str, str]
    """The firm's name pattern by country ({} is the owner's surname)."""
    categories: tuple[str, ...]


TRADES = (
    Trade("schreinerei", {"DE": "Schreinerei {}", "AT": "Tischlerei {}"}, ("wood", "metal")),
    Trade("zimmerei", {"DE": "Zimmerei {}", "AT": "Zimmerei {}"}, ("wood", "roofing", "insulation")),
    Trade("metallbau", {"DE": "Metallbau {}", "AT": "Schlosserei {}"}, ("metal",)),
    Trade("elektro", {"DE": "Elektro {}", "AT": "Elektrotechnik {}"}, ("electrical",)),
    Trade("shk", {"DE": "{} Sanitär- und Heizungstechnik", "AT": "{} Installationen"}, ("sanitary", "metal")),
    Trade("haustechnik", {"DE": "Haustechnik {}", "AT": "Haustechnik {}"}, ("sanitary", "electrical")),
    Trade("dach", {"DE": "Dachdeckerei {}", "AT": "Spenglerei {}"}, ("roofing", "insulation", "metal")),
    Trade(
        "innenausbau", {"DE": "{} Innenausbau", "AT": "{} Trockenbau"}, ("insulation", "wood", "electrical")
    ),
)
LEGAL_FORMS = {"DE": ("GmbH", "GmbH", "GmbH & Co. KG", "e.K."), "AT": ("GmbH", "GmbH", "e.U.", "OG")}
SURNAMES = (
    "Huber", "Müller", "Schmid", "Wagner", "Becker", "Krause", "Berger", "Gruber", "Hofmann", "Steiner",
    "Weber", "Fischer", "Maier", "Schneider", "Wolf", "Brunner", "Lehner", "Bauer", "Koch", "Richter",
    "Pichler", "Moser", "Winkler", "Schwarz", "Zimmermann", "Hartmann", "Lang", "Fuchs", "Kaiser", "Eder",
    "Wimmer", "Lorenz", "Vogel", "Haas", "Köhler", "Seidl", "Böhm", "Graf", "Ebner", "Frank",
)  # fmt: skip
SITES = {
    "DE": (
        ("München", "80939"), ("Augsburg", "86153"), ("Stuttgart", "70469"), ("Nürnberg", "90411"),
        ("Frankfurt am Main", "60386"), ("Köln", "50829"), ("Dortmund", "44147"), ("Leipzig", "04129"),
        ("Dresden", "01129"), ("Hamburg", "22525"), ("Hannover", "30179"), ("Regensburg", "93055"),
    ),
    "AT": (
        ("Wien", "1230"), ("Graz", "8053"), ("Linz", "4030"), ("Salzburg", "5020"),
        ("Innsbruck", "6020"), ("Klagenfurt", "9020"), ("St. Pölten", "3100"), ("Wels", "4600"),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Offer:
    product: Product
    min_order_quantity: int
    capacity_per_cycle: int
    tiers: tuple[tuple[int, Decimal], ...]
    """(min_quantity, unit_price), all-units: the whole quantity gets the tier it reaches."""


@dataclass(frozen=True)
class Supplier:
    id: str
    name: str
    regions: tuple[str, ...]
    lead_time_days: int
    secret: str
    offers: tuple[Offer, ...]
    rejection_rate: float
    """Share of orders it turns down while solvent (a full week, a price error...)."""
    documents: str = "cloudevents"
    """The standard its orders and answers are written in (docs/suppliers.md)."""
    peppol_id: str = ""
    vat_id: str = ""


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    region: str
    city: str
    postal_code: str
    categories: tuple[str, ...]
    erp_secret: str
    webhook_secret: str
    min_risk_severity: str
    weight: float
    """How much this firm orders relative to the others."""
    peppol_id: str = ""
    vat_id: str = ""


@dataclass(frozen=True)
class Buffer:
    """A shared risk buffer of a product only the insolvent supplier sells."""

    product: Product
    subscribers: tuple[str, ...]


BUFFER_WAREHOUSE = {"site": "Zentrallager Kassel", "postal_code": "34117", "country": "DE"}
HOLDING_COST_SHARE = Decimal("0.02")
"""A buffer's holding cost per unit and cycle, of the product's list price (storage, capital)."""
BUFFERED_SHARE = 0.3
"""How often a member that buys a buffered product asks for one of them."""


@dataclass(frozen=True)
class Scenario:
    random_seed: int
    cycle_seconds: int
    members: tuple[Member, ...]
    suppliers: tuple[Supplier, ...]
    insolvent_supplier: Supplier
    alert_reporters: tuple[Member, Member]
    """The member who reports the insolvency, and the one who corroborates it."""
    buffers: tuple[Buffer, ...] = ()

    @cached_property
    def offered(self) -> dict[str, Product]:
        """Every product some supplier sells, by SKU."""
        return {offer.product.sku: offer.product for s in self.suppliers for offer in s.offers}

    def products_of(self, member: Member) -> list[Product]:
        """What the member buys: the offered products of its trade's categories."""
        return [p for p in self.offered.values() if p.category in member.categories]

    def purchase_request(
        self, rng: random.Random, member: Member, number: int, today: date
    ) -> dict[str, Any]:
        """The data of one `purchase_request.submitted`, as this member's ERP would send it."""
        products = self.products_of(member)
        buffered = [p for p in products if p.sku in {b.product.sku for b in self.buffers}]
        product = rng.choice(buffered if buffered and rng.random() < BUFFERED_SHARE else products)
        data: dict[str, Any] = {
            "request_id": f"BANF-{number:06d}",
            "member_id": member.id,
            "sku": product.sku,
            "quantity": max(1, round(product.typical_quantity * rng.lognormvariate(0, 0.6))),
            "needed_by": (today + timedelta(days=rng.randint(7, 42))).isoformat(),
            "ship_to": {
                "site": f"Werkstatt {member.city}",
                "postal_code": member.postal_code,
                "country": member.region,
            },
        }
        if rng.random() < 0.25:  # a ceiling around list price: sometimes only the joint volume meets it
            ceiling = product.list_price * Decimal(str(rng.uniform(0.88, 1.02)))
            data["max_unit_price"] = str(ceiling.quantize(CENT))
        return data

    def seed_document(self, webhook_base_url: str) -> dict[str, Any]:
        """The seed in the contract's format, each member's webhook at the demo's receiver."""
        return {
            "cycle": {"interval_seconds": self.cycle_seconds, "max_supplier_share": 0.7},
            "alliance": ALLIANCE,
            "members": [
                {
                    "id": m.id,
                    "name": m.name,
                    "erp_secret": m.erp_secret,
                    "webhook": {"url": f"{webhook_base_url}/members/{m.id}", "secret": m.webhook_secret},
                    "region": m.region,
                    "interests": {"categories": list(m.categories), "min_risk_severity": m.min_risk_severity},
                    "peppol_id": m.peppol_id,
                    "vat_id": m.vat_id,
                }
                for m in self.members
            ],
            "suppliers": [
                {
                    "id": s.id,
                    "name": s.name,
                    "secret": s.secret,
                    "regions": list(s.regions),
                    "lead_time_days": s.lead_time_days,
                    "documents": s.documents,
                    "peppol_id": s.peppol_id,
                    "vat_id": s.vat_id,
                    "catalog": [
                        {
                            "sku": o.product.sku,
                            "name": o.product.name,
                            "category": o.product.category,
                            "unit": o.product.unit,
                            "capacity_per_cycle": o.capacity_per_cycle,
                            "min_order_quantity": o.min_order_quantity,
                            "tiers": [{"min_quantity": q, "unit_price": str(p)} for q, p in o.tiers],
                        }
                        for o in s.offers
                    ],
                }
                for s in self.suppliers
            ],
            "risk_buffers": [
                {
                    "sku": b.product.sku,
                    "warehouse": BUFFER_WAREHOUSE,
                    "service_level": 0.95,
                    "holding_cost_per_unit_and_cycle": str((b.product.list_price * HOLDING_COST_SHARE).quantize(CENT)),
                    "history_cycles": 6,
                    "statement_every_cycles": 2,
                    "members": list(b.subscribers),
                }
                for b in self.buffers
            ],
        }

    def write_seed(self, path: Path, webhook_base_url: str) -> None:
        header = (
            f"# Generated by `python -m demo --seed {self.random_seed}`: DEMO VALUES ONLY, the secrets\n"
            "# below protect nothing. Regenerated on every demo run.\n"
        )
        body = yaml.safe_dump(self.seed_document(webhook_base_url), sort_keys=False, allow_unicode=True)
        path.write_text(header + body, encoding="utf-8")


def generate(random_seed: int, member_count: int, supplier_count: int, cycle_seconds: int) -> Scenario:
    """The whole cast, deterministically from `random_seed`."""
    rng = random.Random(random_seed)
    suppliers = tuple(_supplier(rng, index) for index in range(supplier_count))
    offered_categories = {o.product.category for s in suppliers for o in s.offers}
    members = _members(rng, member_count, offered_categories)
    insolvent = _insolvent_supplier(rng, suppliers)
    insolvent_categories = {o.product.category for o in insolvent.offers}
    customers = [m for m in members if insolvent_categories & set(m.categories)]
    first, second = rng.sample(customers if len(customers) >= 2 else list(members), 2)
    suppliers, buffers = _buffered(random.Random(random_seed + 2), suppliers, insolvent, members)
    insolvent = next(s for s in suppliers if s.id == insolvent.id)
    return Scenario(random_seed, cycle_seconds, members, suppliers, insolvent, (first, second), buffers)


def _buffered(
    rng: random.Random, suppliers: tuple[Supplier, ...], insolvent: Supplier, members: tuple[Member, ...]
) -> tuple[tuple[Supplier, ...], tuple[Buffer, ...]]:
    """Two of the insolvent supplier's products that only it sells from now on, each with a
    shared risk buffer to which a few of the members buying it subscribe: when it fails,
    they are served from the buffer and the others are told `unfulfillable`. It delivers the same
    day: a buffer covers the cycles until a replenishment arrives, and in the demo's compressed
    time (cycles of seconds) days of lead time would be tens of thousands of cycles."""
    bought = {c for m in members for c in m.categories}
    candidates = [o.product for o in insolvent.offers if o.product.category in bought]
    products = rng.sample(candidates, min(2, len(candidates)))
    skus = {p.sku for p in products}
    others = tuple(
        replace(s, lead_time_days=0) if s.id == insolvent.id
        else replace(s, offers=tuple(o for o in s.offers if o.product.sku not in skus))
        for s in suppliers
    )
    buffers = []
    for product in products:
        buyers = sorted(m.id for m in members if product.category in m.categories)
        subscribers = sorted(rng.sample(buyers, max(1, min(4, len(buyers) // 2))))
        buffers.append(Buffer(product, tuple(subscribers)))
    return others, tuple(buffers)


def _supplier(rng: random.Random, index: int) -> Supplier:
    """The profiles in order; beyond them, further branches of the same wholesalers."""
    profile = SUPPLIER_PROFILES[index % len(SUPPLIER_PROFILES)]
    branch = index // len(SUPPLIER_PROFILES)
    offers = tuple(_offer(rng, product) for product in PRODUCTS if product.category in profile.categories)
    supplier_id = profile.id if branch == 0 else f"{profile.id}-{branch + 1}"
    return Supplier(
        id=supplier_id,
        name=profile.name if branch == 0 else f"{profile.name}, Niederlassung {branch + 1}",
        regions=profile.regions,
        lead_time_days=profile.lead_time_days + branch,
        secret=f"demo-supplier-{supplier_id}-{rng.getrandbits(64):016x}",
        offers=offers,
        rejection_rate=rng.uniform(0.02, 0.08),
        documents=DOCUMENTS_BY_INDEX.get(index, "cloudevents"),
        peppol_id=f"0088:{gln(f'400000200{index:03d}')}",
        vat_id=f"DE{300_000_000 + index}",
    )


def _offer(rng: random.Random, product: Product) -> Offer:
    typical = product.typical_quantity
    minimum = _round_quantity(typical / 2) if rng.random() < 0.3 else 1
    first_price = product.list_price * Decimal(str(rng.uniform(0.96, 1.06)))
    discounts = (0.0, rng.uniform(0.05, 0.09), rng.uniform(0.10, 0.16))
    breaks = (minimum, _round_quantity(4 * typical), _round_quantity(12 * typical))
    return Offer(
        product=product,
        min_order_quantity=minimum,
        capacity_per_cycle=_round_quantity(typical * rng.uniform(60, 120)),
        tiers=tuple(
            (quantity, (first_price * (1 - Decimal(str(d)))).quantize(CENT))
            for quantity, d in zip(breaks, discounts, strict=True)
        ),
    )


def _round_quantity(quantity: float) -> int:
    """Two significant digits (144 -> 140), as a price list prints its tier limits."""
    return max(1, int(float(f"{quantity:.2g}")))


def _members(rng: random.Random, count: int, offered_categories: set[str]) -> tuple[Member, ...]:
    members: list[Member] = []
    taken: set[str] = set()
    for _ in range(count):
        region = "AT" if rng.random() < 0.25 else "DE"
        trade, surname = rng.choice(TRADES), rng.choice(SURNAMES)
        member_id = f"m-{_slug(surname)}-{trade.id}"
        suffix = 2
        while member_id in taken:
            member_id, suffix = f"m-{_slug(surname)}-{trade.id}-{suffix}", suffix + 1
        taken.add(member_id)
        city, postal_code = rng.choice(SITES[region])
        members.append(
            Member(
                id=member_id,
                name=f"{trade.names[region].format(surname)} {rng.choice(LEGAL_FORMS[region])}",
                region=region,
                city=city,
                postal_code=postal_code,
                categories=tuple(c for c in trade.categories if c in offered_categories),
                erp_secret=f"demo-erp-{member_id}-{rng.getrandbits(64):016x}",
                webhook_secret=f"demo-webhook-{member_id}-{rng.getrandbits(64):016x}",
                min_risk_severity=rng.choice(("low", "medium", "medium", "high")),
                weight=rng.choice((0.5, 1.0, 1.0, 1.5, 2.5)),
                peppol_id=f"0088:{gln(f'40000030{len(members):04d}')}",
                vat_id=f"ATU{50_000_000 + len(members)}" if region == "AT" else f"DE{200_000_000 + len(members)}",
            )
        )
    return tuple(members)


def _insolvent_supplier(rng: random.Random, suppliers: tuple[Supplier, ...]) -> Supplier:
    """One whose every product someone else also sells, so its orders can be re-sourced."""
    sellers: dict[str, int] = {}
    for supplier in suppliers:
        for offer in supplier.offers:
            sellers[offer.product.sku] = sellers.get(offer.product.sku, 0) + 1
    replaceable = [s for s in suppliers if s.offers and all(sellers[o.product.sku] > 1 for o in s.offers)]
    return rng.choice(replaceable) if replaceable else suppliers[0]


def gln(first_twelve: str) -> str:
    """A GLN: twelve digits and GS1's mod-10 check digit (PEPPOL checks it for scheme 0088)."""
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(first_twelve)))
    return first_twelve + str((10 - weighted % 10) % 10)


def _slug(text: str) -> str:
    ascii_text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    return unicodedata.normalize("NFKD", ascii_text).encode("ascii", "ignore").decode()
