"""The night's report: what the EV Operation System's store says happened, and the grid load.

:func:`night_report` reads the store (sessions, readings' outcome, settlements, bills)
and the stations' cumulative delivered energy sampled during the night
(:class:`LoadSample`), and returns a JSON-ready summary; :func:`write_report` writes it
with the figures (:mod:`evgrid.sim.demo.plots`) and one bill statement per billed account;
:func:`summary_table` renders it for the console.

The night is ``[night_start_utc, night_start_utc + slot_count * slot_minutes)``; it
covers the sessions whose plug-in window (plug-in to departure) overlaps it. Money stays
Decimal (strings in the JSON), energy is integer Wh, power kW rounded to the watt.
"""

from __future__ import annotations

import json
import math
import string
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group
from rich.table import Table

from evgrid.adapters.store.database import make_engine, session_factory
from evgrid.adapters.store.night_records import NightBill, NightSession, NightSettlement, read_night
from evgrid.adapters.store.planning import night_problem
from evgrid.operations.model import ChargingKind
from evgrid.operations.rates import CENT, ChargeLine
from evgrid.operations.session import SessionState
from evgrid.scheduler.model import SLOT_MINUTES, Problem
from evgrid.sim.demo import plots

S = SessionState
COMPLETED_STATES = frozenset({S.COMPLETED, S.SETTLED, S.BILLING, S.BILLED, S.ACKNOWLEDGED})
BILLED_STATES = frozenset({S.BILLED, S.ACKNOWLEDGED})
THIRD_PARTY = ChargingKind.THIRD_PARTY.value
# A slot is a violation only when its load exceeds the limit by more than 0.5 %: the
# load is rebuilt from sampled cumulative energy, interpolated linearly at slot edges,
# so a station that starts or stops between two samples smears energy into the next
# slot, and a schedule that fills a transformer exactly to its limit would otherwise
# show spurious violations of a few watts.
VIOLATION_TOLERANCE = 0.005
GANTT_ROWS = 60
CONSOLE_ROWS = 12
_FILE_SAFE = frozenset(string.ascii_letters + string.digits + "-_.")


@dataclass(frozen=True, slots=True)
class LoadSample:
    """The stations' cumulative delivered energy at one moment of simulated time."""

    at_utc: datetime  # simulated time of the sample
    delivered_wh: Mapping[str, float]  # station_id -> cumulative Wh the station delivered so far


# --- interpolation and load ---------------------------------------------------------------


def station_series(samples: Iterable[LoadSample]) -> dict[str, list[tuple[datetime, float]]]:
    """Each station's ``(time, cumulative Wh)`` points, in time order (a later duplicate wins)."""
    points: dict[str, dict[datetime, float]] = defaultdict(dict)
    for sample in sorted(samples, key=lambda s: s.at_utc):
        for station_id, wh in sample.delivered_wh.items():
            points[station_id][sample.at_utc] = float(wh)
    return {station: sorted(by_time.items()) for station, by_time in points.items()}


def interpolate(series: Sequence[tuple[datetime, float]], moment: datetime) -> float:
    """Cumulative energy at ``moment``, linear between samples (see :func:`cumulative_at`)."""
    return cumulative_at(series, [moment])[0]


def cumulative_at(series: Sequence[tuple[datetime, float]], moments: Sequence[datetime]) -> list[float]:
    """Cumulative energy at each of ``moments``, linear between the samples of ``series``.

    Before the first sample it is the first value, after the last the last: a station
    sampled late or stopped early is taken to deliver nothing outside its samples.
    An empty series is 0.
    """
    times = [at for at, _ in series]
    values = []
    for moment in moments:
        index = bisect_right(times, moment)
        if not series:
            values.append(0.0)
        elif index in (0, len(series)):
            values.append(series[max(index - 1, 0)][1])
        else:
            (t0, e0), (t1, e1) = series[index - 1], series[index]
            values.append(e0 + (e1 - e0) * ((moment - t0) / (t1 - t0)))
    return values


def slot_power_kw(series: Sequence[tuple[datetime, float]], edges: Sequence[datetime]) -> list[float]:
    """The average power (kW) in each slot between consecutive ``edges``."""
    energy = cumulative_at(series, edges)
    return [(energy[i + 1] - energy[i]) / 1000 / ((edges[i + 1] - edges[i]) / timedelta(hours=1))
            for i in range(len(edges) - 1)]


@dataclass(frozen=True, slots=True)
class _Records:
    """What the store knows about the night, with the grid load rebuilt from the samples."""

    sessions: tuple[NightSession, ...]
    bills: dict[str, NightBill]  # session_id -> bill
    settlements: tuple[NightSettlement, ...]
    customers: dict[str, tuple[str, str]]  # account_id -> (customer_id, name)
    zones: dict[str, str]  # tariff_id -> time zone
    planned: dict[str, tuple[datetime, ...]]  # session_id -> starts of slots with power
    outside: int  # sessions in the store that do not overlap the night
    panels: tuple[plots.LoadPanel, ...]
    prices: tuple[float, ...]
    unmapped: tuple[str, ...]  # sampled stations the registry does not know
    currency: str  # of the tariff the planner prices slots with (the newest)


def _planner_view(database_url: str, start: datetime, slot_count: int, slot_minutes: int) -> Problem:
    """The night's problem (prices, transformers' base load per planner slot) as the planner saw it."""
    engine = make_engine(database_url)
    try:
        return night_problem(session_factory(engine), start, math.ceil(slot_count * slot_minutes / SLOT_MINUTES))
    finally:
        engine.dispose()


def _read(database_url: str, samples: Sequence[LoadSample], start: datetime, slot_count: int,
          slot_minutes: int) -> _Records:
    end = start + timedelta(minutes=slot_count * slot_minutes)
    edges = tuple(start + timedelta(minutes=slot_minutes * i) for i in range(slot_count + 1))
    # Prices and base load per planner slot, as the planner saw them; each report slot
    # takes the planner slot its start falls in (the same rule night_problem applies).
    fine = _planner_view(database_url, start, slot_count, slot_minutes)
    picks = [i * slot_minutes // SLOT_MINUTES for i in range(slot_count)]
    night = read_night(database_url, start, end)
    ev_kw: dict[str, list[float]] = defaultdict(lambda: [0.0] * slot_count)
    unmapped = []
    for station_id, series in station_series(samples).items():
        if station_id not in night.station_transformer:
            unmapped.append(station_id)  # sampled but not in the registry: reported, not guessed
            continue
        power = slot_power_kw(series, edges)
        total = ev_kw[night.station_transformer[station_id]]
        total[:] = [a + b for a, b in zip(total, power, strict=True)]
    panels = tuple(plots.LoadPanel(t.transformer_id, t.capacity_kw, edges, tuple(ev_kw[t.transformer_id]),
                                   tuple(t.base_load_kw[i] for i in picks)) for t in fine.transformers)
    prices = tuple(float(fine.prices_per_kwh[i]) for i in picks)
    return _Records(night.sessions, night.bills, night.settlements, night.customers, night.zones, night.planned,
                    night.outside, panels, prices, tuple(sorted(unmapped)), night.currency)


# --- summary ------------------------------------------------------------------------------


def _money(amount: Decimal) -> str:
    """Cents when the amount is whole cents (billing rounds per line), else every digit."""
    cents = amount.quantize(CENT)
    return str(cents if cents == amount else amount.normalize())


def charge_lines(bill: NightBill) -> list[ChargeLine]:
    """The charge lines of a stored bill, with the metered intervals each prices.

    The store keeps them as text, ``label: <Wh> Wh x <price> = <amount>``, followed for a
    line priced from metered intervals by `` (<n> intervals, <k> estimated)``, joined by
    ``"; "`` (:meth:`evgrid.adapters.store.uow.SqlLedger.record_bill`). A line without the
    counts was priced from the registers alone (0 intervals).

    Raises:
        ValueError: the text is not in that form.
    """
    lines = []
    for part in filter(None, bill.body.split("; ")):
        label, _, rest = part.rpartition(": ")
        words = rest.split()
        counts = words[6:]
        if (not label or len(words) not in (6, 10) or words[1:3] != ["Wh", "x"] or words[4] != "="
                or (counts and (counts[0][:1], counts[1], counts[3]) != ("(", "intervals,", "estimated)"))):
            raise ValueError(f"bill {bill.bill_id}: unreadable charge line {part!r}")
        intervals, estimated = (int(counts[0][1:]), int(counts[2])) if counts else (0, 0)
        lines.append(ChargeLine(label, int(words[0]), Decimal(words[3]), Decimal(words[5]), intervals, estimated))
    return lines


def bill_lines(bill: NightBill) -> list[tuple[str, int, Decimal, Decimal]]:
    """The charge lines ``(label, Wh, price per kWh, amount)`` of a stored bill (:func:`charge_lines`).

    Raises:
        ValueError: the text is not in the stored form.
    """
    return [(line.label, line.energy_wh, line.price_per_kwh, line.amount) for line in charge_lines(bill)]


def night_report(database_url: str, samples: Sequence[LoadSample], *, night_start_utc: datetime,
                 slot_count: int, slot_minutes: int = 15, portal_bills: Mapping[str, int] | None = None) -> dict:
    """Summarise the night: sessions, energy metered and billed, bills, settlements, grid load.

    Args:
        database_url: the EV Operation System's store.
        samples: the stations' cumulative delivered energy during the night.
        night_start_utc: start of the first slot (aware UTC).
        slot_count: number of slots in the night.
        slot_minutes: slot length.
        portal_bills: bills each owner portal received, when the caller counted them.

    Returns:
        A JSON-ready dict: ``night``; ``sessions_total``, ``sessions_completed`` (COMPLETED
        or later), ``sessions_billed`` (BILLED, ACKNOWLEDGED), ``third_party_sessions``,
        ``sessions_by_state``, ``sessions_outside_night``; ``energy_metered_wh`` (the
        sessions' meter deltas), ``energy_billed_wh``, ``energy_sampled_wh`` (what the
        stations delivered); ``bills`` per account, ``energy_by_rate`` per tariff window
        label, ``third_party`` per session, ``sessions`` (each with its tariff, rate, usage
        point, interval, metered and billed Wh), ``settlements``, ``portal_bills``;
        ``transformers`` (limit and peak), ``violations``, ``unmapped_stations``.
    """
    records = _read(database_url, samples, night_start_utc, slot_count, slot_minutes)
    states = Counter(row.state for row in records.sessions)
    by_account: dict[tuple[str, str], list[NightBill]] = defaultdict(list)
    for bill in records.bills.values():
        by_account[bill.account_id, bill.currency].append(bill)
    by_rate: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for bill in records.bills.values():
        for label, wh, _, amount in bill_lines(bill):
            by_rate[label, bill.currency][0] += wh
            by_rate[label, bill.currency][1] += amount
    labels = Counter(label for label, _ in by_rate)
    transformers, violations = [], []
    for panel in records.panels:
        loads = panel.load_kw
        peak = max(loads, default=0.0)
        transformers.append({"id": panel.transformer_id, "limit_kw": round(panel.limit_kw, 3), "peak_kw": round(peak, 3),
                             "peak_slot_start": panel.edges_utc[loads.index(peak) if loads else 0].isoformat()})
        for slot, load in enumerate(loads):
            if load > panel.limit_kw * (1 + VIOLATION_TOLERANCE):
                violations.append({"transformer": panel.transformer_id, "slot_start": panel.edges_utc[slot].isoformat(),
                                   "load_kw": round(load, 3), "limit_kw": round(panel.limit_kw, 3)})
    series = station_series(samples)
    return {
        "night": {"start": night_start_utc.isoformat(),
                  "end": (night_start_utc + timedelta(minutes=slot_count * slot_minutes)).isoformat(),
                  "slot_minutes": slot_minutes, "slot_count": slot_count},
        "sessions_total": len(records.sessions),
        "sessions_completed": sum(n for state, n in states.items() if S(state) in COMPLETED_STATES),
        "sessions_billed": sum(n for state, n in states.items() if S(state) in BILLED_STATES),
        "third_party_sessions": sum(1 for row in records.sessions if row.kind == THIRD_PARTY),
        "sessions_by_state": dict(sorted(states.items())),
        "sessions_outside_night": records.outside,
        "energy_metered_wh": sum(row.consumed_wh or 0 for row in records.sessions),
        "energy_billed_wh": sum(bill.energy_wh for bill in records.bills.values()),
        "energy_sampled_wh": round(sum(points[-1][1] - points[0][1] for points in series.values())),
        "bills": [{"account": account, "customer": records.customers.get(account, ("", ""))[1],
                   "sessions": len(bills), "wh": sum(b.energy_wh for b in bills),
                   "amount": _money(sum((b.amount for b in bills), Decimal(0))), "currency": currency}
                  for (account, currency), bills in sorted(by_account.items())],
        "energy_by_rate": {(label if labels[label] == 1 else f"{label} [{currency}]"):
                           {"wh": wh, "amount": _money(amount), "currency": currency}
                           for (label, currency), (wh, amount) in sorted(by_rate.items())},
        "third_party": [{"session_id": row.session_id, "ev_id": row.ev_id, "station_id": row.station_id,
                         "ev_owner_account": row.owner_account_id, "host_account": row.host_account_id,
                         "billed_account": records.bills[row.session_id].account_id
                         if row.session_id in records.bills else None, "wh": row.consumed_wh}
                        for row in records.sessions if row.kind == THIRD_PARTY],
        "sessions": [{"session_id": row.session_id, "kind": row.kind, "tariff": row.tariff_id, "rate": row.rate,
                      "usage_point": row.usage_point_id,
                      "started": row.started_at.isoformat() if row.started_at else None,
                      "completed": row.completed_at.isoformat() if row.completed_at else None,
                      "metered_wh": row.consumed_wh,
                      "billed_wh": records.bills[row.session_id].energy_wh if row.session_id in records.bills else None}
                     for row in records.sessions],
        "settlements": {"count": len(records.settlements), "wh": sum(s.energy_wh for s in records.settlements)},
        "portal_bills": dict(sorted(portal_bills.items())) if portal_bills is not None else None,
        "transformers": transformers,
        "violations": violations,
        "violation_tolerance": VIOLATION_TOLERANCE,
        "unmapped_stations": list(records.unmapped),
    }


# --- output -------------------------------------------------------------------------------


def _gantt(records: _Records) -> tuple[list[plots.GanttRow], str]:
    shown = records.sessions[:GANTT_ROWS]
    rows = [plots.GanttRow(
        f"{row.ev_id} @ {row.station_id}", row.kind == THIRD_PARTY, row.plugged_in_at, row.departure_at,
        records.planned.get(row.session_id, ()), SLOT_MINUTES,
        (row.started_at, row.completed_at) if row.started_at and row.completed_at else None) for row in shown]
    title = "Charging sessions by plug-in"
    if len(records.sessions) > len(shown):
        title += f" (the first {len(shown)} of {len(records.sessions)})"
    return rows, title


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if moment else "-"


def _statement(account_id: str, bills: Sequence[NightBill], records: _Records) -> str:
    """A human-readable statement of one account's bills for the night."""
    sessions = {row.session_id: row for row in records.sessions}
    customer_id, name = records.customers.get(account_id, ("?", "unknown customer"))
    currency = bills[0].currency if bills else ""
    out = ["EV charging statement", "=" * 21, f"Account:  {account_id}", f"Customer: {name} ({customer_id})",
           f"Currency: {currency}", ""]
    for bill in sorted(bills, key=lambda b: (sessions[b.session_id].plugged_in_at, b.session_id)):
        row = sessions[bill.session_id]
        zone = ZoneInfo(records.zones.get(row.tariff_id or "", "UTC"))
        site = row.premise_number
        if row.kind == THIRD_PARTY:
            site += f"  [third-party site, host account {row.host_account_id}]"
        out += [f"Session {row.session_id} (bill {bill.bill_id})",
                f"  Date:    {_local(row.plugged_in_at, zone)}",
                f"  Charged: {_local(row.started_at, zone)} to {_local(row.completed_at, zone)}",
                f"  EV:      {row.ev_id}", f"  Site:    {site}", f"  Rate:    {row.rate or '-'} of tariff {row.tariff_id or '-'}",
                f"  Energy:  {bill.energy_wh} Wh"]
        for line in charge_lines(bill):
            # A line priced from meter data management's 15-minute intervals says how many, and
            # how many of them MDM estimated (a span the portal could not read).
            metered = f"  {line.intervals:>3} intervals, {line.estimated} estimated" if line.intervals else ""
            out.append(f"    {line.label:<16} {line.energy_wh:>9} Wh x {line.price_per_kwh.normalize():>8} "
                       f"{bill.currency}/kWh = {_money(line.amount):>9} {bill.currency}{metered}")
        out += [f"  Amount:  {_money(bill.amount)} {bill.currency}", ""]
    total = sum((b.amount for b in bills), Decimal(0))
    out.append(f"Total: {len(bills)} session(s), {sum(b.energy_wh for b in bills)} Wh, {_money(total)} {currency}")
    return "\n".join(out) + "\n"


def _file_name(account_id: str) -> str:
    return "".join(c if c in _FILE_SAFE else "_" for c in account_id) or "_"


def write_report(summary: dict, out_dir: Path, *, database_url: str, samples: Sequence[LoadSample]) -> list[Path]:
    """Write ``summary.json``, ``load.png``, ``sessions.png`` and ``bills/<account_id>.txt``.

    The figures and statements are drawn from the store and samples again (the summary
    keeps only totals); the night is the one ``summary["night"]`` describes.

    Returns:
        The paths written, summary first.
    """
    night = summary["night"]
    records = _read(database_url, samples, datetime.fromisoformat(night["start"]).astimezone(UTC),
                    night["slot_count"], night["slot_minutes"])
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "summary.json"]
    written[0].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    written.append(plots.plot_load(records.panels, records.prices, out_dir / "load.png", currency=records.currency))
    rows, title = _gantt(records)
    written.append(plots.plot_sessions(rows, out_dir / "sessions.png", title=title))
    by_account: dict[str, list[NightBill]] = defaultdict(list)
    for bill in records.bills.values():
        by_account[bill.account_id].append(bill)
    (out_dir / "bills").mkdir(exist_ok=True)
    for account_id, bills in sorted(by_account.items()):
        path = out_dir / "bills" / f"{_file_name(account_id)}.txt"
        path.write_text(_statement(account_id, bills, records), encoding="utf-8")
        written.append(path)
    return written


def _table(title: str, *columns: str) -> Table:
    """A table whose columns are right-aligned, except those named with a leading ``<``."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column.lstrip("<"), justify="left" if column.startswith("<") else "right")
    return table


def summary_table(summary: dict) -> Group:
    """The summary for the console: totals, the largest bills, energy per rate, the busiest transformers."""
    night = summary["night"]
    totals = _table(f"Night {night['start']} to {night['end']}", "<what", "value")
    for key in ("sessions_total", "sessions_completed", "sessions_billed", "third_party_sessions",
                "energy_metered_wh", "energy_mdm_wh", "energy_billed_wh", "energy_sampled_wh", "mdm_readings",
                "intervals", "estimated_intervals"):
        if key in summary:
            totals.add_row(key.replace("_", " "), f"{summary[key]:,}")
    totals.add_row("settlements", f"{summary['settlements']['count']} ({summary['settlements']['wh']:,} Wh)")
    totals.add_row("violations", f"[red]{len(summary['violations'])}[/]" if summary["violations"] else "0")
    largest = sorted(summary["bills"], key=lambda b: -Decimal(b["amount"]))[:CONSOLE_ROWS]
    bills = _table(f"Bills: the largest {len(largest)} of {len(summary['bills'])} accounts", "<account", "<customer",
                   "sessions", "Wh", "amount")
    for bill in largest:
        bills.add_row(bill["account"], bill["customer"], str(bill["sessions"]), f"{bill['wh']:,}",
                      f"{bill['amount']} {bill['currency']}")
    rates = _table("Energy billed per rate", "<rate", "Wh", "amount")
    for label, rate in summary["energy_by_rate"].items():
        rates.add_row(label, f"{rate['wh']:,}", f"{rate['amount']} {rate['currency']}")
    over = {v["transformer"] for v in summary["violations"]}
    ranked = sorted(summary["transformers"], key=lambda t: -t["peak_kw"] / t["limit_kw"] if t["limit_kw"] else 0.0)
    grid = _table(f"Transformers: the busiest {min(len(ranked), CONSOLE_ROWS)} of {len(ranked)} (peak / limit)",
                  "<transformer", "peak kW", "limit kW", "<peak at")
    for row in ranked[:CONSOLE_ROWS]:
        grid.add_row(row["id"], f"{row['peak_kw']:.1f}", f"{row['limit_kw']:.1f}", row["peak_slot_start"],
                     style="red" if row["id"] in over else None)
    return Group(totals, bills, rates, grid)
