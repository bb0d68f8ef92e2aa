"""Setting up a demo night: the database, the gateways' layout and the portals' files."""

from __future__ import annotations

import csv
import json
import secrets
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update

from evgrid.adapters.store import database as store
from evgrid.adapters.store import models as m
from evgrid.adapters.store.registry import import_registry
from evgrid.adapters.store.tariff import import_tariff
from evgrid.mappings import iec61850_refs as refs
from evgrid.sim import scenario as sc
from evgrid.sim.ied import packaged_scl


@dataclass(frozen=True, slots=True)
class Plant:
    """How the scenario's stations spread over gateway IEDs (``per_gateway`` each, in order)."""

    scenario: sc.Scenario
    per_gateway: int

    @property
    def station_icd(self) -> Path:
        """The station ICD every gateway serves (``--stations N``)."""
        return packaged_scl("evse.icd")

    def gateways(self) -> list[tuple[int, int]]:
        """(first station number, how many) per gateway."""
        total = len(self.scenario.homes)
        return [(first, min(self.per_gateway, total - first + 1)) for first in range(1, total + 1, self.per_gateway)]

    def lds(self, station_number: int) -> tuple[str, str]:
        """The station and meter logical devices of a station in its gateway."""
        local = (station_number - 1) % self.per_gateway + 1
        return (f"{refs.STATION_IED}{refs.gateway_inst(refs.STATION_LD_INST, local)}",
                f"{refs.STATION_IED}{refs.gateway_inst(refs.METER_LD_INST, local)}")


def seed_database(database_url: str, scenario: sc.Scenario, work: Path) -> None:
    """Migrate, import the registry and the tariff, and set each transformer's base load."""
    registry = sc.write_registry(scenario, work / "registry.csv")
    tariff = sc.write_tariff(work / "tariff.toml")
    engine = store.make_engine(database_url)
    try:
        store.upgrade(engine)
        with store.session_factory(engine).begin() as session:
            import_registry(session, registry)
            import_tariff(session, tariff)
            for transformer in scenario.transformers:
                session.execute(update(m.Transformer).where(m.Transformer.transformer_id == transformer.transformer_id)
                                .values(base_load_kw=list(transformer.base_load_kw)))
    finally:
        engine.dispose()


def write_portal_files(scenario: sc.Scenario, plant: Plant, work: Path, portal_ports: list[int]) -> Path:
    """``sites-<g>.json`` per portal host and the operation system's ``portals.csv``; returns the CSV.

    Each site gets its own credential at the operation system, bound to its customer
    and usage point; the CSV tells the operation system where each premise's portal is.
    """
    rows = []
    for g, ((first, count), port) in enumerate(zip(plant.gateways(), portal_ports, strict=True), start=1):
        sites = []
        for number in range(first, first + count):
            home = scenario.home(number)
            station_ld, meter_ld = plant.lds(number)
            user, password = f"portal-{home.premise_number}", secrets.token_urlsafe(12)
            sites.append({
                "station_id": home.station_id, "meter_number": home.meter_number, "customer_id": home.customer_id,
                "account_id": home.account_id, "usage_point_id": home.usage_point_id,
                "premise_number": home.premise_number, "station_max_kw": home.station_max_kw,
                "station_ld": station_ld, "meter_ld": meter_ld, "user": user, "password": password,
            })
            rows.append({"user": user, "password": password, "customer_id": home.customer_id,
                         "usage_point_id": home.usage_point_id, "premise_number": home.premise_number,
                         "portal_url": f"http://127.0.0.1:{port}"})
        (work / f"sites-{g}.json").write_text(json.dumps({"sites": sites}, indent=1), encoding="utf-8")
    path = work / "portals.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ("user", "password", "customer_id", "usage_point_id", "premise_number",
                                         "portal_url"))
        writer.writeheader()
        writer.writerows(rows)
    return path


_engines: dict[str, object] = {}


def pending_deliveries(database_url: str) -> int:
    """Outbox messages of the operation system not delivered yet (bills on their way to portals ...)."""
    engine = _engine(database_url)
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return int(connection.execute(select(func.count()).select_from(m.OutboxMessage)
                                      .where(m.OutboxMessage.status == "pending")).scalar_one())


def _engine(database_url: str) -> object:
    engine = _engines.get(database_url)
    if engine is None:
        engine = _engines[database_url] = store.make_engine(database_url)
    return engine


def session_states(database_url: str) -> dict[str, int]:
    """How many sessions are in each state now (a read; the operation system keeps writing)."""
    with _engine(database_url).connect() as connection:  # type: ignore[attr-defined]
        rows = connection.execute(select(m.ChargingSession.state, func.count()).group_by(m.ChargingSession.state))
        return dict(Counter({state: int(n) for state, n in rows}))
