"""``evgrid db upgrade``, ``evgrid registry import``, ``evgrid tariff import`` and ``evgrid baseload import``."""

from __future__ import annotations

from pathlib import Path

import pytest

from evgrid.cli import main


def test_db_upgrade_then_again(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--database-url", store_url]) == 0
    assert "upgraded from empty to revision 0006" in capsys.readouterr().out
    assert main(["db", "upgrade", "--database-url", store_url]) == 0
    assert "already at revision 0006" in capsys.readouterr().out


def test_imports_on_a_fresh_database(store_url: str, examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the tariffs first: the registry's accounts name them
    assert main(["tariff", "import", str(examples / "tariff.toml"), "--database-url", store_url]) == 0
    assert "tariff NL-EV-TOU-2025 created (2 intervals, the default tariff)" in capsys.readouterr().out
    assert main(["tariff", "import", str(examples / "tariff-peak.toml"), "--database-url", store_url]) == 0
    assert "tariff NL-EV-PEAK-2025 created (4 intervals)\n" in capsys.readouterr().out
    assert main(["registry", "import", str(examples / "registry.csv"), "--database-url", store_url]) == 0
    out = capsys.readouterr().out
    assert "service_locations: 6 (6 new, 0 updated, 0 unchanged)" in out and "evs: 5 (5 new" in out


def test_baseload_import_after_the_registry(store_url: str, examples: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("tariff.toml", "tariff-peak.toml"):
        assert main(["tariff", "import", str(examples / name), "--database-url", store_url]) == 0
    assert main(["registry", "import", str(examples / "registry.csv"), "--database-url", store_url]) == 0
    capsys.readouterr()
    loads = tmp_path / "baseload.csv"
    loads.write_text("transformer_id,time,kw\nT-01,00:00,12\nT-01,17:00,30\nT-01,2026-01-15T17:15:00Z,38.2\n")
    assert main(["baseload", "import", str(loads), "--database-url", store_url]) == 0
    assert capsys.readouterr().out == f"{loads}: 1 daily profile(s), 1 forecast slot(s)\n"
    loads.write_text("transformer_id,time,kw\nT-77,00:00,12\n")
    assert main(["baseload", "import", str(loads), "--database-url", store_url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 2: transformer 'T-77' is not in the registry" in err


def test_a_registry_naming_a_tariff_not_imported_is_refused(
    store_url: str, examples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["registry", "import", str(examples / "registry.csv"), "--database-url", store_url]) == 2
    err = capsys.readouterr().err
    assert "line 5: tariff_id 'NL-EV-TOU-2025' is not an imported tariff" in err and "nothing written" in err


def test_the_database_comes_from_the_environment_then_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVGRID_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert (tmp_path / "evgrid.db").is_file()
    monkeypatch.setenv("EVGRID_DATABASE_URL", f"sqlite:///{tmp_path / 'from-env.db'}")
    assert main(["db", "upgrade"]) == 0
    assert (tmp_path / "from-env.db").is_file()
    capsys.readouterr()


@pytest.mark.parametrize(("argv", "expected"), [
    pytest.param(["registry", "import", "{tmp}/missing.csv"], "evgrid registry import: {tmp}/missing.csv rejected",
                 id="registry-missing-file"),
    pytest.param(["registry", "import", "{tmp}/bad.csv"], "line 2: account_status 'frozen'", id="registry-bad-row"),
    pytest.param(["tariff", "import", "{tmp}/bad.toml"],
                 "evgrid tariff import: {tmp}/bad.toml rejected, nothing written", id="tariff-bad-file"),
    pytest.param(["db", "upgrade", "--database-url", "not-a-url"], "evgrid db upgrade: database error: ",
                 id="bad-url"),
])
def test_errors_are_one_line_on_stderr_and_exit_2(
    argv: list[str], expected: str, store_url: str, examples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.csv").write_text(
        (examples / "registry.csv").read_text().replace("A-1001,open", "A-1001,frozen"))
    (tmp_path / "bad.toml").write_text('id = "T"\n')
    args = [arg.format(tmp=tmp_path) for arg in argv]
    if "--database-url" not in args:
        args += ["--database-url", store_url]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert expected.format(tmp=tmp_path) in captured.err
