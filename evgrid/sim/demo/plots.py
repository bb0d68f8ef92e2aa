"""The night report's figures: transformer load (``load.png``) and a session Gantt (``sessions.png``).

The only module importing matplotlib. Figures are drawn with the object API on an Agg
canvas (no pyplot, no global backend switch, no screen), so the demo and the tests can
render them in any process or thread. The inputs are plain data prepared by
:mod:`evgrid.sim.demo.report`; nothing here reads the database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

MAX_PANELS = 12
PANEL_COLUMNS = 3
DPI = 100
HOME_COLOUR = "tab:blue"
THIRD_PARTY_COLOUR = "tab:orange"
LIMIT_COLOUR = "tab:red"
PRICE_COLOUR = "tab:green"
_HOURS = DateFormatter("%H:%M", tz=UTC)


@dataclass(frozen=True, slots=True)
class LoadPanel:
    """One transformer's night: per-slot EV and base load (kW) against its limit."""

    transformer_id: str
    limit_kw: float
    edges_utc: tuple[datetime, ...]  # slot boundaries: one more than there are slots
    ev_kw: tuple[float, ...]
    base_kw: tuple[float, ...]

    @property
    def load_kw(self) -> tuple[float, ...]:
        """EV plus base load per slot."""
        return tuple(ev + base for ev, base in zip(self.ev_kw, self.base_kw, strict=True))

    @property
    def utilisation(self) -> float:
        """Peak load over the limit (infinite for a zero limit carrying load)."""
        peak = max(self.load_kw, default=0.0)
        return peak / self.limit_kw if self.limit_kw else (math.inf if peak else 0.0)


@dataclass(frozen=True, slots=True)
class GanttRow:
    """One session: when it was plugged in, its planned slots and when it actually charged."""

    label: str
    third_party: bool
    plugged_in_utc: datetime
    departure_utc: datetime
    planned_utc: tuple[datetime, ...]  # starts of the planned slots
    slot_minutes: int
    charged_utc: tuple[datetime, datetime] | None


def plot_load(panels: Sequence[LoadPanel], prices_per_kwh: Sequence[float], path: Path, *, currency: str) -> Path:
    """Draw one panel per transformer; beyond :data:`MAX_PANELS`, the busiest (peak / limit) first.

    Args:
        panels: the transformers.
        prices_per_kwh: the price of each slot (the same slots as the panels), drawn on a
            secondary axis so that cheap-hour scheduling is visible against the load.
        path: the PNG file to write.
        currency: the price axis unit.

    Returns:
        ``path``.
    """
    title = f"Transformer load ({len(panels)} transformers)"
    shown = list(panels)
    if len(panels) > MAX_PANELS:
        shown = sorted(panels, key=lambda panel: -panel.utilisation)[:MAX_PANELS]
        title = f"Transformer load: the {MAX_PANELS} busiest of {len(panels)} transformers (peak / limit)"
    shown = shown or [LoadPanel("(no transformers)", 0.0, (), (), ())]
    columns = min(PANEL_COLUMNS, len(shown))
    rows = -(-len(shown) // columns)
    figure = Figure(figsize=(5.2 * columns, 3.2 * rows + 0.6), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title)
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index >= len(shown):
            ax.set_visible(False)
            continue
        panel = shown[index]
        ax.set_title(panel.transformer_id, fontsize=10)
        if not panel.edges_utc:
            continue
        base = [*panel.base_kw, panel.base_kw[-1]]
        total = [b + e for b, e in zip(panel.base_kw, panel.ev_kw, strict=True)]
        total = [*total, total[-1]]
        edges = list(panel.edges_utc)
        ax.fill_between(edges, 0, base, step="post", color="0.8", label="base load")
        ax.fill_between(edges, base, total, step="post", color=HOME_COLOUR, alpha=0.45, label="EV load")
        ax.step(edges, total, where="post", color=HOME_COLOUR, linewidth=1.2)
        ax.axhline(panel.limit_kw, color=LIMIT_COLOUR, linestyle="--", linewidth=1.2, label="limit")
        ax.set_ylabel("kW")
        ax.set_xlabel("UTC", fontsize=8)
        ax.set_ylim(0, max(panel.limit_kw, *total) * 1.12 or 1.0)
        ax.xaxis.set_major_formatter(_HOURS)
        ax.tick_params(axis="x", labelsize=8)
        if len(prices_per_kwh) == len(panel.ev_kw):
            price_axis = ax.twinx()
            price_axis.step(edges, [*prices_per_kwh, prices_per_kwh[-1]], where="post", color=PRICE_COLOUR,
                            linewidth=1.0, alpha=0.8)
            price_axis.set_ylabel(f"{currency}/kWh", color=PRICE_COLOUR, fontsize=8)
            price_axis.tick_params(axis="y", labelcolor=PRICE_COLOUR, labelsize=8)
            price_axis.set_ylim(0, max(prices_per_kwh) * 1.3 or 1.0)
    handles = [Patch(color="0.8", label="base load"), Patch(color=HOME_COLOUR, alpha=0.45, label="EV load"),
               Line2D([], [], color=LIMIT_COLOUR, linestyle="--", label="limit"),
               Line2D([], [], color=PRICE_COLOUR, label="price (home rate)")]
    figure.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=8)
    figure.savefig(path, format="png")
    return path


def plot_sessions(rows: Sequence[GanttRow], path: Path, *, title: str) -> Path:
    """Draw a Gantt chart: one row per session, top to bottom in the order given.

    Each row shows the plug-in window as a thin line, the planned slots as light bars
    and the actual charging (start to completion) as a solid bar, in one colour for home
    sessions and another for third-party ones.

    Returns:
        ``path``.
    """
    figure = Figure(figsize=(11, 1.6 + 0.28 * max(len(rows), 1)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title)
    ax = figure.subplots()
    for y, row in enumerate(rows):
        colour = THIRD_PARTY_COLOUR if row.third_party else HOME_COLOUR
        ax.hlines(y, row.plugged_in_utc, row.departure_utc, color="0.6", linewidth=1, zorder=1)
        ax.plot([row.plugged_in_utc], [y], marker="|", color="0.3", markersize=8)
        for start, end in _runs(row.planned_utc, timedelta(minutes=row.slot_minutes)):
            ax.barh(y, end - start, left=start, height=0.7, color=colour, alpha=0.3, edgecolor="none",
                    zorder=2)
        if row.charged_utc is not None:
            start, end = row.charged_utc
            ax.barh(y, end - start, left=start, height=0.35, color=colour, edgecolor="none", zorder=3)
    ax.set_yticks(range(len(rows)), [row.label for row in rows], fontsize=7)
    ax.set_ylim(len(rows) - 0.5 if rows else 0.5, -0.5)
    ax.xaxis.set_major_formatter(_HOURS)
    ax.set_xlabel("UTC")
    ax.set_axisbelow(True)
    ax.grid(axis="x", color="0.9")
    handles = [Patch(color=HOME_COLOUR, alpha=0.3, label="planned (home)"),
               Patch(color=HOME_COLOUR, label="charging (home)"),
               Patch(color=THIRD_PARTY_COLOUR, alpha=0.3, label="planned (third party)"),
               Patch(color=THIRD_PARTY_COLOUR, label="charging (third party)"),
               Line2D([], [], color="0.6", label="plugged in until departure")]
    figure.legend(handles=handles, loc="outside lower center", ncols=5, fontsize=8)
    figure.savefig(path, format="png")
    return path


def _runs(starts: Sequence[datetime], length: timedelta) -> list[tuple[datetime, datetime]]:
    """Consecutive slot starts merged into ``(start, end)`` runs: one bar per run."""
    runs: list[tuple[datetime, datetime]] = []
    for start in sorted(starts):
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], start + length)
        else:
            runs.append((start, start + length))
    return runs
