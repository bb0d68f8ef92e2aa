"""One demo night from start to report, with live progress on a rich console."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from evgrid.apps.services.mdm import MeterDataManagement
from evgrid.operations.metering import INTERVAL, ceil_interval, floor_interval
from evgrid.sim.demo.night import Night, NightRun
from evgrid.sim.demo.report import night_report, summary_table, write_report

_ORDER = ("requested", "classified", "rated", "confirmed", "scheduled", "charging", "completed", "settled",
          "billing", "billed", "acknowledged", "cancelled")


def run_night(options: object, console: Console, *, live: bool = True) -> dict:
    """Set up, run and report one night; the processes are stopped whatever happens."""
    night = Night(options)  # type: ignore[arg-type]
    console.print(f"[bold]evgrid demo[/]: {len(night.scenario.homes)} homes, {len(night.scenario.visits)} visits "
                  f"({sum(v.third_party for v in night.scenario.visits)} at a friend's house), "
                  f"speed {night.options.speed:g}x, output in {night.out}")
    night.prepare()
    with Live(console=console, refresh_per_second=4, transient=True) as screen:
        if live:
            night.options.progress = lambda status: screen.update(_progress(status))
        try:
            console.print("starting the IEDs, billing, the operation system and the portals ...")
            night.start()
            run = night.drive()
        finally:
            night.stop()
    return _report(night, run, console)


def _progress(status: dict) -> Table:
    states: dict[str, int] = status["states"]  # type: ignore[assignment]
    table = Table(title=f"night at {status['time']:%Y-%m-%d %H:%M} UTC", show_header=True)
    table.add_column("EVs plugged in")
    for state in _ORDER:
        if states.get(state):
            table.add_column(state)
    table.add_row(f"{status['injected']}/{status['visits']}",
                  *[str(states[s]) for s in _ORDER if states.get(s)])
    for line in status["faults"]:  # type: ignore[union-attr]
        table.caption = (table.caption or "") + f"\nfault: {line}"
    return table


def portal_bills(databases: list[Path]) -> dict[str, int]:
    """Bills received by the owners' portals (4.1.1), per account."""
    counts: Counter[str] = Counter()
    for path in databases:
        if not path.exists():
            continue
        with sqlite3.connect(path) as connection:
            for (account,) in connection.execute("SELECT account_id FROM bills"):
                counts[account] += 1
    return dict(counts)


def mdm_figures(database: Path, sessions: list[dict]) -> dict:
    """What meter data management holds: messages, intervals, estimates, and each billed session's Wh.

    A session's MDM energy is the sum of the 15-minute intervals of its usage point that
    end after the quarter hour it started in and by the quarter hour it ended in (what
    billing prices); each session row gets ``mdm_wh``.
    """
    if not database.exists():
        return {"mdm_readings": 0, "intervals": 0, "estimated_intervals": 0, "energy_mdm_wh": 0}
    mdm = MeterDataManagement(database)
    try:
        energy = 0
        for row in sessions:
            if row["billed_wh"] is None or not row["started"] or not row["completed"]:
                continue
            start = floor_interval(datetime.fromisoformat(row["started"])) + INTERVAL
            end = ceil_interval(datetime.fromisoformat(row["completed"]))
            row["mdm_wh"] = sum(i.wh for i in mdm.intervals(row["usage_point"], start, max(start, end)))
            energy += row["mdm_wh"]
        return {"mdm_readings": mdm.stored_message_count(), "intervals": mdm.interval_count(),
                "estimated_intervals": mdm.estimated_count(), "energy_mdm_wh": energy}
    finally:
        mdm.close()


def summarize(night: Night, run: NightRun) -> dict:
    """The night's summary (summary.json), with ``complete`` when the night lost nothing.

    Complete: every visit became a session, every session was billed once (or cancelled
    because its EV left before its start, with nothing metered) and its bill reached the
    owner's portal, metered energy equals MDM's intervals of the billed sessions equals
    billed energy, and no transformer went over its limit.
    """
    scenario = night.scenario
    summary = night_report(run.database_url, run.samples, night_start_utc=scenario.night_start_utc,
                           slot_count=scenario.slot_count, portal_bills=portal_bills(run.portal_databases))
    delivered = sum((summary.get("portal_bills") or {}).values())
    summary["demo"] = {
        "homes": len(scenario.homes), "visits": len(scenario.visits), "speed": night.options.speed,
        "wall_s": round(run.wall_s, 1), "faults": run.faults_done, "timed_out": run.timed_out,
        "bills_at_portals": delivered,
    }
    summary.update(mdm_figures(night.out / "state" / "mdm.db", summary["sessions"]))
    # A session whose EV left before its start is cancelled: nothing metered, nothing to bill.
    cancelled = summary.get("sessions_by_state", {}).get("cancelled", 0)
    summary["complete"] = (not run.timed_out and summary["sessions_total"] == len(scenario.visits)
                           and summary["sessions_billed"] + cancelled == summary["sessions_total"]
                           and summary["energy_metered_wh"] == summary["energy_mdm_wh"] == summary["energy_billed_wh"]
                           and delivered == summary["sessions_billed"] and not summary["violations"])
    return summary


def _report(night: Night, run: NightRun, console: Console) -> dict:
    summary = summarize(night, run)
    paths = write_report(summary, night.out, database_url=run.database_url, samples=run.samples)
    for renderable in _renderables(summary_table(summary)):
        console.print(renderable)
    verdict = "[green]complete[/]" if summary["complete"] else "[red]INCOMPLETE[/]"
    console.print(f"night {verdict} in {run.wall_s:.1f} s wall; files: "
                  + ", ".join(str(p.relative_to(night.out)) for p in paths if p.parent == night.out)
                  + f", bills/, evgrid.db, logs/ in {night.out}")
    return summary


def _renderables(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]
