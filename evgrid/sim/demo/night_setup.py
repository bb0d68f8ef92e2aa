"""Setting up a demo night: the database, the gateways' layout and the portals' files."""

from __future__ import annotations

import csv
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from evgrid.adapters.store.night_records import set_base_load
from evgrid.adapters.store.registry import seed
from evgrid.mappings import iec61850_refs as refs
from evgrid.sim.demo import scenario as sc
from evgrid.sim.devices.ied import packaged_scl


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
    """Migrate, import both tariffs and the registry, and set each transformer's base load."""
    registry = sc.write_registry(scenario, work / "registry.csv")
    tariffs = sc.write_tariffs(work)

    def base_loads(session: object) -> None:
        for transformer in scenario.transformers:
            set_base_load(session, transformer.transformer_id, transformer.base_load_kw)  # type: ignore[arg-type]

    seed(database_url, registry, tariffs, then=base_loads)


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
