"""The store from the outside, on SQLite and PostgreSQL.

The real ``evgrid`` command in a subprocess, and several upgraders racing on one
database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from evgrid.adapters.store import database as store
from evgrid.adapters.store.models import ElectricVehicle, TariffInterval

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


# store_url (an empty SQLite file or a fresh PostgreSQL schema) comes from tests/integration/conftest.py.


def _evgrid(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"EVGRID_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "evgrid", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120, check=False)


def test_a_database_from_nothing_with_the_evgrid_command(store_url: str, tmp_path: Path) -> None:
    upgraded = _evgrid("db", "upgrade", url=store_url, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "revision 0006" in upgraded.stdout
    # Tariffs first: the registry names them per account.
    tariff = _evgrid("tariff", "import", str(EXAMPLES / "tariff.toml"), url=store_url, cwd=tmp_path)
    assert tariff.returncode == 0, tariff.stderr
    registry = _evgrid("registry", "import", str(EXAMPLES / "registry.csv"), url=store_url, cwd=tmp_path)
    assert registry.returncode == 0, registry.stderr

    broken = tmp_path / "broken.csv"
    broken.write_text((EXAMPLES / "registry.csv").read_text().replace("M-1004", "M-1001"))
    refused = _evgrid("registry", "import", str(broken), url=store_url, cwd=tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "line 6: meter number 'M-1001'" in refused.stderr

    engine = store.make_engine(store_url)
    try:
        with store.session_factory(engine)() as db:
            assert db.scalar(select(func.count()).select_from(ElectricVehicle)) == 5
            assert db.scalar(select(func.count()).select_from(TariffInterval)) == 2
    finally:
        engine.dispose()
    assert not (tmp_path / "evgrid.db").exists() or store_url.endswith(f"{tmp_path}/evgrid.db")


def test_workers_upgrading_at_once_all_succeed(store_url: str) -> None:
    # Threads with a barrier make a tighter race than processes that start one by one.
    # Without the lock store.upgrade() takes first, this fails: two upgraders both find no
    # alembic_version and both create it (and Alembic's context is process-global).
    engines = [store.make_engine(store_url) for _ in range(4)]
    start = threading.Barrier(len(engines))

    def worker(index: int) -> None:
        start.wait(timeout=30)
        store.upgrade(engines[index])

    try:
        with ThreadPoolExecutor(max_workers=len(engines)) as pool:
            for outcome in [pool.submit(worker, i) for i in range(len(engines))]:
                outcome.result(timeout=60)  # re-raises a worker's error here
        assert store.current_revision(engines[0]) == store.head_revision()
    finally:
        for engine in engines:
            engine.dispose()
