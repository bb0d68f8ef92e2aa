"""What bench_utility.py runs: a utility's registry and base load as CSV files, and its evening's requests.

The grid is the shape of :func:`evgrid.scheduler.synthetic.western_night` (the use case's
western utility), at the size of a whole utility:

- premises of 8-12 homes per distribution transformer (25, 37.5 or 50 kVA, power factor
  0.95), feeders of about 1,500 homes, each rated 1.2-1.5 times its evening base-load
  peak: below the sum of its transformers' ratings (about 0.8 of it), so the feeder binds
  before its transformers do once the EVs plug in, and placement must look at it;
- about 40 % of the premises with an EV and a 7.2 kW home station (battery 40-100 kWh,
  on-board charger 6.6, 7.2 or 11 kW);
- each transformer's base load: the residential curve of ``western_night`` (17:00-08:00,
  peak at 19:00, trough at 03:00 local; the day's hours filled in) times its homes, a diversity factor of 0.8-1.05 and
  +-3 % noise, as 24 hourly rows of the ``evgrid baseload import`` CSV. Local time is the
  example tariff's (Europe/Amsterdam, UTC+1 in winter): the profile rows are in UTC.

The evening: every ChargingRequest is an EV plugging in at its own home station at a time
drawn as ``western_night`` draws them (17:00-21:00 local, most around 18:30: a
triangular distribution over the 16 quarter hours, so the busiest quarter hour holds
12.5 % of the evening's arrivals), leaving 06:00-08:00, wanting 10-60 kWh (at most its battery).

Ids follow ``serve_workload.number``: premise n is customer C-n, account A-n, premise
P-n, usage point UP-n, meter M-n, and with an EV station S-n and EV EV-n.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from serve_workload import HEADER, Messages, number  # benchmarks/, beside this module

from evgrid.cim.codec import Codec
from evgrid.mappings.ev_charging import xml_time

HOMES_PER_FEEDER = 1500
EV_SHARE = 0.4
STATION_KW = 7.2
EV_ONBOARD_KW = (6.6, 7.2, 7.2, 11.0)
POWER_FACTOR = 0.95
UTC_OFFSET_HOURS = 1  # Europe/Amsterdam in winter: the example tariff's zone
# Non-EV load of one home by local hour (kW), as evgrid.scheduler.synthetic's western night.
HOME_LOAD_KW = (0.85, 0.75, 0.7, 0.68, 0.7, 0.85, 1.2, 1.6, 1.7, 1.6, 1.5, 1.45,
                1.4, 1.4, 1.45, 1.6, 1.75, 1.9, 2.3, 2.4, 2.2, 1.9, 1.5, 1.1)  # fmt: skip
# Arrivals: quarter hours after 17:00 local, triangular(0, 16, 6) as western_night draws them.
ARRIVAL_QUARTERS = (0, 16, 6)
PEAK_QUARTER_SHARE = 2 / 16  # the triangular density at its mode: the busiest quarter hour's share


@dataclass
class Grid:
    """What was written: the EV premises (number -> feeder), counts, the feeders' ratings."""

    premises: int = 0
    transformers: int = 0
    feeders: int = 0
    ev_feeder: dict[int, int] = field(default_factory=dict)  # premise number with an EV -> its feeder
    ev_battery_wh: dict[int, int] = field(default_factory=dict)  # premise number with an EV -> its battery
    feeder_rating_kw: list[float] = field(default_factory=list)
    feeder_transformers_kw: list[float] = field(default_factory=list)  # sum of the feeder's transformer ratings


def write_grid(meters: int, registry: Path, base_load: Path, seed: int = 2026) -> Grid:
    """Write ``meters`` premises to ``registry`` (registry CSV) and the transformers' profiles to ``base_load``.

    Streams both files (a million rows stay a few MB of memory). Returns the grid's shape.
    """
    rng = random.Random(seed)
    grid = Grid()
    with registry.open("w", encoding="utf-8") as reg, base_load.open("w", encoding="utf-8") as base:
        reg.write(HEADER + "\n")
        base.write("transformer_id,time,kw\n")
        feeder_rows: list[str] = []  # the current feeder's rows: its rating is known once it is full
        feeder_peak = [0.0] * 24
        feeder_homes = 0

        def close_feeder() -> None:
            rating = round(max(feeder_peak) * rng.uniform(1.2, 1.5), 1)
            grid.feeder_rating_kw.append(rating)
            reg.writelines(row.replace("#FEEDER_KW#", f"{rating:g}") for row in feeder_rows)
            grid.feeders += 1

        grid.feeder_transformers_kw.append(0.0)
        while grid.premises < meters:
            if feeder_homes >= HOMES_PER_FEEDER:
                close_feeder()
                feeder_rows, feeder_peak, feeder_homes = [], [0.0] * 24, 0
                grid.feeder_transformers_kw.append(0.0)
            homes = min(rng.randint(8, 12), meters - grid.premises)
            kva = rng.choice((25.0, 37.5) if homes <= 9 else (37.5, 50.0) if homes <= 11 else (50.0,))
            capacity = round(kva * POWER_FACTOR, 3)
            diversity = rng.uniform(0.8, 1.05)
            transformer = f"T-{grid.transformers + 1:06d}"
            feeder = f"F-{grid.feeders + 1:04d}"
            grid.transformers += 1
            grid.feeder_transformers_kw[-1] += capacity
            for hour_utc in range(24):
                kw = round(homes * HOME_LOAD_KW[(hour_utc + UTC_OFFSET_HOURS) % 24] * diversity * rng.uniform(0.97, 1.03), 2)
                feeder_peak[hour_utc] += kw
                base.write(f"{transformer},{hour_utc:02d}:00,{kw}\n")
            for _ in range(homes):
                grid.premises += 1
                n = number(grid.premises)
                ids = (f"C-{n},Customer {n},A-{n},open,P-{n},UP-{n},M-{n},{transformer},{capacity:g},"
                       f"{feeder},#FEEDER_KW#")
                if rng.random() < EV_SHARE:
                    grid.ev_feeder[grid.premises] = grid.feeders
                    battery = rng.choice((40, 52, 60, 64, 77, 82, 100))
                    grid.ev_battery_wh[grid.premises] = battery * 1000
                    feeder_rows.append(f"{ids},S-{n},{STATION_KW:g},EV-{n},{battery},{rng.choice(EV_ONBOARD_KW):g}\n")
                else:
                    feeder_rows.append(f"{ids},,,,,\n")
            feeder_homes += homes
        close_feeder()
    return grid


def pick(grid: Grid, count: int, seed: int = 7) -> list[tuple[int, int]]:
    """``count`` distinct EV premises at random across all feeders (each request a fresh EV), with their battery (Wh)."""
    evs = sorted(grid.ev_feeder)
    if count > len(evs):
        raise SystemExit(f"the registry has {len(evs)} EVs, not {count}")
    return [(n, grid.ev_battery_wh[n]) for n in random.Random(seed).sample(evs, count)]


class Evening:
    """The ChargingRequest of EV-n at its home station S-n, plugging in and leaving as in ``western_night``.

    Args:
        codec: writes the template (``serve_workload.Messages``'s ChargingRequest).
        night: 17:00 local (the operation system's night start); arrivals up to 4 h later.
    """

    def __init__(self, codec: Codec, night: datetime, seed: int = 11) -> None:
        messages = Messages(codec, night)
        self.template = messages.request
        self.night = night
        self.rng = random.Random(seed)
        # The template's own values, replaced per request below.
        self.created = _element("createdDateTime", xml_time(night + timedelta(minutes=35)))
        self.departure = _element("departureTime", xml_time(night + timedelta(hours=13)))
        self.energy = b"<ev:requestedEnergy>20000</ev:requestedEnergy>"
        for part in (self.created, self.departure, self.energy):
            if part not in self.template:
                raise SystemExit(f"the ChargingRequest template changed: {part!r} not in it")
        self.token = b"#NUM#"

    def request(self, n: int, battery_wh: int) -> bytes:
        """One message (a new MessageID, a new session) for premise ``n``, wanting at most ``battery_wh``."""
        arrival = min(15, int(self.rng.triangular(*ARRIVAL_QUARTERS)))
        plugged = self.night + timedelta(minutes=15 * arrival + self.rng.randrange(15))
        leaves = self.night + timedelta(hours=13 + self.rng.random() * 2)
        wanted_wh = min(self.rng.randrange(10_000, 60_000, 100), battery_wh)
        return (self.template.replace(self.token, number(n).encode())
                .replace(self.created, _element("createdDateTime", xml_time(plugged)))
                .replace(self.departure, _element("departureTime", xml_time(leaves.replace(second=0, microsecond=0))))
                .replace(self.energy, f"<ev:requestedEnergy>{wanted_wh}</ev:requestedEnergy>".encode()))


def _element(name: str, value: object) -> bytes:
    return f"<ev:{name}>{value}</ev:{name}>".encode()
