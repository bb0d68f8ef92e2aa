"""The instance and plan files of ``evgrid plan``: JSON <-> Problem / Plan, pure.

The formats are fixed by the issue so that other tools can produce and check them::

    instance {"start": ISO-8601 UTC, "slot_minutes": 15, "slots": int,
              "prices": [per slot, per kWh], "unmet_penalty_per_kwh": float,
              "transformers": [{"id", "capacity_kw", "base_load_kw": [per slot], "feeder": id or null}],
              "feeders": [{"id", "capacity_kw"}],
              "sessions": [{"id", "transformer", "arrival_slot", "departure_slot" (exclusive),
                            "energy_kwh", "max_kw", "asap": bool}]}
    plan     {"sessions": {id: [[slot, kw], ...]},
              "summary": {"cost", "unmet_kwh", "objective", "runtime_s", "max_utilisation"}}

``asap`` marks a third-party session (use-case 3.x). Sessions start and end on slot
boundaries in this format. A plan lists only the slots with power; kW are written
exactly (shortest round-trip floats), so a plan read back is the plan written.
Everything wrong in a file is a ``ValueError`` naming the place (``sessions[3].max_kw``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from evgrid.scheduler.check import max_utilisation, plan_cost
from evgrid.scheduler.model import (
    Feeder,
    Horizon,
    Problem,
    SessionRequest,
    Transformer,
    is_aware_utc,
)
from evgrid.scheduler.plan import Plan, build_plan

Json = dict[str, Any]


def problem_from_json(data: object) -> Problem:
    """Read an instance (parsed JSON).

    Raises:
        ValueError: A missing or mistyped field, or an inconsistent instance.
    """
    root = _object(data, "instance")
    start = _text(root, "start", "instance")
    try:
        start_utc = datetime.fromisoformat(start)  # 3.11 reads "Z" too
    except ValueError:
        raise ValueError(f"start: {start!r} is not an ISO-8601 time") from None
    if not is_aware_utc(start_utc):
        raise ValueError(f"start: {start!r} is not UTC (give Z or +00:00)")
    slot_minutes, slots = _integer(root, "slot_minutes", "instance", 1), _integer(root, "slots", "instance", 1)
    horizon = Horizon(start_utc, slots, slot_minutes)
    prices = _numbers(root, "prices", "instance", slots)
    penalty = _number(root, "unmet_penalty_per_kwh", "instance")
    transformers = tuple(
        Transformer(
            _text(t, "id", where),
            _number(t, "capacity_kw", where),
            _numbers(t, "base_load_kw", where, slots),
            _optional_text(t, "feeder", where),
        )
        for where, t in _items(root, "transformers")
    )
    feeders = tuple(
        Feeder(_text(f, "id", where), None if f.get("capacity_kw") is None else _number(f, "capacity_kw", where))
        for where, f in _items(root, "feeders")
    )
    sessions = []
    for where, s in _items(root, "sessions"):
        arrival, departure = _integer(s, "arrival_slot", where, 0), _integer(s, "departure_slot", where, 0)
        if departure < arrival:
            raise ValueError(f"{where}: departure_slot {departure} is before arrival_slot {arrival}")
        energy, max_kw, asap = _number(s, "energy_kwh", where), _number(s, "max_kw", where), s.get("asap")
        if energy < 0 or max_kw < 0:
            raise ValueError(f"{where}: energy_kwh and max_kw must not be negative")
        if not isinstance(asap, bool):
            raise ValueError(f"{where}.asap: expected true or false")  # a bad file is a bad value to the CLI, not a bug  # noqa: TRY004  # a bad file is a bad value to the CLI
        sessions.append(
            SessionRequest(
                session_id=_text(s, "id", where),
                arrival_utc=horizon.slot_start_utc(arrival),
                departure_utc=horizon.slot_start_utc(departure),
                energy_wh=round(energy * 1000),
                max_power_kw=max_kw,
                transformer_id=_text(s, "transformer", where),
                third_party=asap,
            )
        )
    return Problem(horizon, tuple(sessions), transformers, prices, penalty, feeders)


def problem_to_json(problem: Problem) -> Json:
    """Write ``problem`` as an instance.

    Raises:
        ValueError: A session does not start or end on a slot boundary (the format
            cannot say so).
    """
    horizon = problem.horizon
    slot = timedelta(minutes=horizon.slot_minutes)
    sessions = []
    for s in problem.sessions:
        arrival, departure = (s.arrival_utc - horizon.start_utc) / slot, (s.departure_utc - horizon.start_utc) / slot
        if arrival != int(arrival) or departure != int(departure):
            raise ValueError(f"session {s.session_id}: not on slot boundaries")
        sessions.append({
            "id": s.session_id, "transformer": s.transformer_id, "arrival_slot": int(arrival),
            "departure_slot": int(departure), "energy_kwh": s.energy_wh / 1000, "max_kw": s.max_power_kw,
            "asap": s.third_party,
        })  # fmt: skip
    return {
        "start": horizon.start_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "slot_minutes": horizon.slot_minutes,
        "slots": horizon.slot_count,
        "prices": [float(price) for price in problem.prices_per_kwh],
        "unmet_penalty_per_kwh": float(problem.penalty_per_kwh),
        "transformers": [
            {
                "id": t.transformer_id,
                "capacity_kw": t.capacity_kw,
                "base_load_kw": list(t.base_load_kw),
                "feeder": t.feeder_id,
            }
            for t in problem.transformers
        ],
        "feeders": [{"id": f.feeder_id, "capacity_kw": f.capacity_kw} for f in problem.feeders],
        "sessions": sessions,
    }


def plan_to_json(problem: Problem, plan: Plan, runtime_s: float) -> Json:
    """Write ``plan`` of ``problem`` with its summary (objective = cost + penalty x unmet)."""
    cost = plan_cost(problem, plan)
    power = plan.power_kw
    sessions = {}
    for row, sid in enumerate(plan.session_ids):
        slots = np.flatnonzero(power[row] > 0.0)
        sessions[sid] = [[slot, kw] for slot, kw in zip(slots.tolist(), power[row, slots].tolist(), strict=True)]
    return {
        "sessions": sessions,
        "summary": {
            "cost": cost.energy_cost,
            "unmet_kwh": cost.unmet_kwh,
            "objective": cost.total,
            "runtime_s": runtime_s,
            "max_utilisation": max_utilisation(problem, plan),
        },
    }


def plan_from_json(problem: Problem, data: object) -> Plan:
    """Read a plan of ``problem`` (its summary is not trusted: check the plan instead).

    Raises:
        ValueError: A missing or mistyped field, an unknown session or a bad slot.
    """
    root = _object(data, "plan")
    given = _object(root.get("sessions"), "sessions")
    known = {s.session_id for s in problem.sessions}
    slots = problem.horizon.slot_count
    powers: dict[str, list[float]] = {}
    for sid, pairs in given.items():
        if sid not in known:
            raise ValueError(f"sessions.{sid}: not a session of the instance")
        if not isinstance(pairs, list):
            raise ValueError(f"sessions.{sid}: expected a list of [slot, kw]")  # a bad file is a bad value to the CLI, not a bug  # noqa: TRY004  # a bad file is a bad value to the CLI
        power = [0.0] * slots
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2 and _is_int(pair[0]) and _is_number(pair[1])):
                raise ValueError(f"sessions.{sid}: {pair!r} is not [slot, kw]")  # a bad file is a bad value to the CLI, not a bug
            if not 0 <= pair[0] < slots:
                raise ValueError(f"sessions.{sid}: slot {pair[0]} outside 0..{slots - 1}")
            power[pair[0]] = float(pair[1])
        powers[sid] = power
    return build_plan(problem, powers)


# --- field readers: each names the place of what is wrong ---------------------------


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a JSON object")  # a bad file is a bad value to the CLI, not a bug  # noqa: TRY004  # a bad file is a bad value to the CLI
    return value


def _items(root: Mapping[str, Any], key: str) -> list[tuple[str, Mapping[str, Any]]]:
    values = root.get(key)
    if not isinstance(values, list):
        raise ValueError(f"{key}: expected a list")  # a bad file is a bad value to the CLI, not a bug  # noqa: TRY004  # a bad file is a bad value to the CLI
    return [(f"{key}[{i}]", _object(v, f"{key}[{i}]")) for i, v in enumerate(values)]


def _text(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}.{key}: expected a non-empty string")  # a bad file is a bad value to the CLI, not a bug
    return value


def _optional_text(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if obj.get(key) is None else _text(obj, key, where)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(obj: Mapping[str, Any], key: str, where: str) -> float:
    value = obj.get(key)
    if not _is_number(value):
        raise ValueError(f"{where}.{key}: expected a finite number")  # a bad file is a bad value to the CLI, not a bug
    return float(value)


def _integer(obj: Mapping[str, Any], key: str, where: str, least: int) -> int:
    value = obj.get(key)
    if not _is_int(value) or value < least:
        raise ValueError(f"{where}.{key}: expected an integer >= {least}")  # a bad file is a bad value to the CLI, not a bug
    return int(value)


def _numbers(obj: Mapping[str, Any], key: str, where: str, count: int) -> tuple[float, ...]:
    values = obj.get(key)
    if not isinstance(values, list) or len(values) != count or not all(_is_number(v) for v in values):
        # A bad file is a bad value to the CLI, not a bug.
        raise ValueError(f"{where}.{key}: expected {count} finite numbers (one per slot)")
    return tuple(float(v) for v in values)
