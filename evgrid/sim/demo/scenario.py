"""A simulated night for ``evgrid demo``: homes, transformers, the tariffs and who charges where.

Deterministic for a seed. Each home has a customer, an account, a premise with a meter
and a charging station, and one EV. Two tariffs: every third account pays the second
one (:data:`PEAK_TARIFF_ID`, an evening peak and a later, cheaper EV night), the others
the default (:data:`TARIFF_ID`); every fourth EV is not enrolled in the EV rate and pays
its tariff's plain price in the EV night. Homes are grouped about eight to a distribution
transformer whose capacity holds the evening base load plus about a third of its stations
at full power: charging everyone on arrival would overload it, a schedule does not.

That night each home's station serves at most one visit:

- most EVs come home in the evening and leave in the morning (home charge, steps 2.x);
- about ``third_party_share`` of the sessions are quick charges at a friend's house
  (steps 3.x): EV *i* charges at home *j* for a few evening hours, while home *j*'s own
  EV is away for the night.

Station *n* of the scenario is logical device ``STAn`` / meter ``MTRn`` of the gateway
IED that serves it (:mod:`evgrid.mappings.iec61850_refs`).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEFAULT_NIGHT_START = datetime(2026, 1, 15, 16, 0, tzinfo=UTC)
NIGHT_HOURS = 16
SLOT_MINUTES = 15
HOMES_PER_TRANSFORMER = 8
# Evening base load per home (kW) by UTC hour: cooking at 17-19 h, little at night.
_BASE_KW_PER_HOME = (0.4, 0.35, 0.35, 0.35, 0.35, 0.4, 0.6, 0.8, 0.7, 0.6, 0.6, 0.6,
                     0.6, 0.6, 0.6, 0.7, 0.9, 1.3, 1.5, 1.3, 1.0, 0.8, 0.6, 0.5)

TARIFF_ID = "DEMO-EV-TOU"
PEAK_TARIFF_ID = "DEMO-EV-PEAK"
PEAK_EVERY = 3  # accounts of homes 3, 6, 9, ... pay PEAK_TARIFF_ID
NOT_ENROLLED_EVERY = 4  # the EVs of homes 4, 8, 12, ... are not enrolled in the EV rate

TARIFF_TOML = """\
# The demo's default tariff: residential time-of-use with the EV night rate (use-case step 2.1).
id = "DEMO-EV-TOU"
name = "Residential time-of-use with EV night rate"
currency = "EUR"
timezone = "Europe/Amsterdam"
default = true
third_party_price_per_kwh = "0.31"

[[interval]]
label = "day"
start = "07:00"
end = "23:00"
price_per_kwh = "0.28"
ev_night = false

[[interval]]
label = "EV night"
start = "23:00"
end = "07:00"
price_per_kwh = "0.09"
ev_night = true
"""

PEAK_TARIFF_TOML = """\
# The demo's second tariff: an evening peak and a shorter, cheaper EV night from midnight.
id = "DEMO-EV-PEAK"
name = "Residential with evening peak and EV night rate"
currency = "EUR"
timezone = "Europe/Amsterdam"
third_party_price_per_kwh = "0.34"
plain_price_per_kwh = "0.21"

[[interval]]
label = "day"
start = "07:00"
end = "17:00"
price_per_kwh = "0.24"
ev_night = false

[[interval]]
label = "peak"
start = "17:00"
end = "21:00"
price_per_kwh = "0.36"
ev_night = false

[[interval]]
label = "evening"
start = "21:00"
end = "00:00"
price_per_kwh = "0.24"
ev_night = false

[[interval]]
label = "EV night"
start = "00:00"
end = "07:00"
price_per_kwh = "0.07"
ev_night = true
"""
TARIFFS = {TARIFF_ID: TARIFF_TOML, PEAK_TARIFF_ID: PEAK_TARIFF_TOML}  # the default first


@dataclass(frozen=True, slots=True)
class Home:
    """One customer's premise with its station, meter and EV."""

    number: int  # 1-based: station STAn / meter MTRn of the gateway
    customer_id: str
    customer_name: str
    account_id: str
    premise_number: str
    usage_point_id: str
    meter_number: str
    station_id: str
    station_max_kw: float
    transformer_id: str
    ev_id: str
    ev_battery_kwh: int
    ev_max_kw: float
    tariff_id: str = TARIFF_ID  # the account's tariff
    ev_rate: bool = True  # the EV is enrolled in the EV rate


@dataclass(frozen=True, slots=True)
class Transformer:
    """A distribution transformer: capacity and hourly base load (kW, by UTC hour)."""

    transformer_id: str
    capacity_kw: float
    base_load_kw: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Visit:
    """An EV that plugs into a station that night."""

    station_number: int
    ev_id: str
    owner_number: int
    arrival_utc: datetime
    departure_utc: datetime
    energy_wh: int
    ev_limit_w: float
    room_wh: int | None = None  # the battery is full after this (less than asked): step 2.3.2

    @property
    def third_party(self) -> bool:
        """Charging at another customer's station."""
        return self.owner_number != self.station_number


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything the demo needs to set up and drive one night."""

    night_start_utc: datetime
    slot_count: int
    homes: tuple[Home, ...]
    transformers: tuple[Transformer, ...]
    visits: tuple[Visit, ...]

    @property
    def night_end_utc(self) -> datetime:
        """The end of the planning horizon."""
        return self.night_start_utc + timedelta(minutes=SLOT_MINUTES * self.slot_count)

    def home(self, number: int) -> Home:
        """Home ``number`` (1-based)."""
        return self.homes[number - 1]


def generate(homes: int, *, third_party_share: float = 0.1, seed: int = 1,
             night_start_utc: datetime = DEFAULT_NIGHT_START) -> Scenario:
    """A night for ``homes`` homes; ``third_party_share`` of the sessions at a friend's house."""
    if homes < 1:
        raise ValueError("a night needs at least one home")
    if not 0 <= third_party_share < 1:
        raise ValueError(f"the third-party share must be in [0, 1), not {third_party_share}")
    rng = random.Random(seed)
    built = tuple(_home(n, rng) for n in range(1, homes + 1))
    transformers = _transformers(built)
    # Sessions = homes - pairs; pairs / sessions = share  =>  pairs = share * homes / (1 + share).
    pairs = min(round(third_party_share * homes / (1 + third_party_share)), homes // 2)
    if third_party_share > 0 and homes >= 2:
        pairs = max(pairs, 1)
    order = list(range(1, homes + 1))
    rng.shuffle(order)
    visits: list[Visit] = []
    taken: set[int] = set()
    for k in range(pairs):
        owner, host = order[2 * k], order[2 * k + 1]
        taken |= {owner, host}
        visits.append(_visit(built[owner - 1], host, night_start_utc, rng, third_party=True))
    for home in built:
        if home.number not in taken:
            visits.append(_visit(home, home.number, night_start_utc, rng, third_party=False))
    visits.sort(key=lambda v: (v.arrival_utc, v.station_number))
    return Scenario(night_start_utc, NIGHT_HOURS * 60 // SLOT_MINUTES, built, transformers, tuple(visits))


def _home(n: int, rng: random.Random) -> Home:
    station_kw = rng.choice((7.4, 7.4, 11.0))
    return Home(
        number=n, customer_id=f"C-{n:05d}", customer_name=f"Customer {n}", account_id=f"A-{n:05d}",
        premise_number=f"P-{n:05d}", usage_point_id=f"UP-{n:05d}", meter_number=f"M-{n:05d}",
        station_id=f"S-{n:05d}", station_max_kw=station_kw,
        transformer_id=f"T-{(n - 1) // HOMES_PER_TRANSFORMER + 1:03d}",
        ev_id=f"EV-{n:05d}", ev_battery_kwh=rng.choice((40, 58, 64, 77, 82)), ev_max_kw=rng.choice((7.4, 11.0)),
        tariff_id=PEAK_TARIFF_ID if n % PEAK_EVERY == 0 else TARIFF_ID, ev_rate=n % NOT_ENROLLED_EVERY != 0,
    )


def _transformers(homes: tuple[Home, ...]) -> tuple[Transformer, ...]:
    groups: dict[str, list[Home]] = {}
    for home in homes:
        groups.setdefault(home.transformer_id, []).append(home)
    result = []
    for transformer_id, members in groups.items():
        base = tuple(round(kw * len(members), 2) for kw in _BASE_KW_PER_HOME)
        stations_kw = sum(min(h.station_max_kw, h.ev_max_kw) for h in members)
        capacity = round(max(base) + 0.35 * stations_kw, 1)
        result.append(Transformer(transformer_id, capacity, base))
    return tuple(result)


def _visit(owner: Home, station_number: int, night: datetime, rng: random.Random, *, third_party: bool) -> Visit:
    if third_party:  # a quick charge during an evening visit
        arrival = night + timedelta(minutes=rng.randint(90, 300))
        departure = arrival + timedelta(minutes=rng.randint(150, 240))
        energy_kwh = rng.uniform(6, 14)
    else:  # home in the evening, away in the morning
        arrival = night + timedelta(minutes=rng.randint(30, 330))
        departure = night + timedelta(hours=NIGHT_HOURS) - timedelta(minutes=rng.randint(30, 150))
        energy_kwh = rng.uniform(0.2, 0.55) * owner.ev_battery_kwh
    # About a third of the EVs over-estimate what they need: they are full before their
    # slots end and open the contactor themselves (2.3.2); the others are stopped at the end.
    # A quick charge at a friend's house ends when the battery is full (3.3.2).
    if third_party:
        room: int | None = int(energy_kwh * 1000 * rng.uniform(0.5, 0.7))
    else:
        room = int(energy_kwh * 1000 * rng.uniform(0.6, 0.85)) if rng.random() < 0.35 else None
    return Visit(station_number=station_number, ev_id=owner.ev_id, owner_number=owner.number,
                 arrival_utc=arrival, departure_utc=departure, energy_wh=int(energy_kwh * 1000),
                 ev_limit_w=owner.ev_max_kw * 1000, room_wh=room)


REGISTRY_COLUMNS = ("customer_id", "customer_name", "account_id", "account_status", "premise_number",
                    "usage_point_id", "meter_number", "transformer_id", "transformer_capacity_kw", "feeder_id",
                    "feeder_capacity_kw", "station_id", "station_max_kw", "ev_id", "ev_battery_kwh", "ev_max_kw",
                    "tariff_id", "ev_rate")


def write_registry(scenario: Scenario, path: Path) -> Path:
    """The registry CSV ``evgrid registry import`` reads (one feeder for all transformers).

    Accounts on the default tariff leave ``tariff_id`` empty; the others name theirs.
    """
    capacity = {t.transformer_id: t.capacity_kw for t in scenario.transformers}
    feeder_kw = round(sum(capacity.values()) * 0.9, 1)  # diversity: the feeder need not hold every peak
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, REGISTRY_COLUMNS)
        writer.writeheader()
        for h in scenario.homes:
            writer.writerow({
                "customer_id": h.customer_id, "customer_name": h.customer_name, "account_id": h.account_id,
                "account_status": "open", "premise_number": h.premise_number, "usage_point_id": h.usage_point_id,
                "meter_number": h.meter_number, "transformer_id": h.transformer_id,
                "transformer_capacity_kw": capacity[h.transformer_id], "feeder_id": "F-001",
                "feeder_capacity_kw": feeder_kw, "station_id": h.station_id, "station_max_kw": h.station_max_kw,
                "ev_id": h.ev_id, "ev_battery_kwh": h.ev_battery_kwh, "ev_max_kw": h.ev_max_kw,
                "tariff_id": "" if h.tariff_id == TARIFF_ID else h.tariff_id, "ev_rate": "yes" if h.ev_rate else "no",
            })
    return path


def write_tariff(path: Path) -> Path:
    """The demo's default tariff, for ``evgrid tariff import``."""
    path.write_text(TARIFF_TOML, encoding="utf-8")
    return path


def write_tariffs(folder: Path) -> list[Path]:
    """Both demo tariffs (``<id>.toml`` in ``folder``), the default first: import them in this order."""
    paths = []
    for tariff_id, text in TARIFFS.items():
        path = folder / f"{tariff_id}.toml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
