"""The ``evgrid`` command: --version, --help on every subcommand, catalog and validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evgrid import __version__
from evgrid.cli import COMMANDS, build_parser, main
from evgrid.mappings import catalog


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"evgrid {__version__}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: evgrid {command}" in capsys.readouterr().out


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run([sys.executable, "-m", "evgrid", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_catalog_then_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "--out", str(tmp_path)]) == 0
    files = sorted(tmp_path.glob("*.xml"))
    assert len(files) == sum(row.carries_cim for row in catalog.STEPS)
    assert (tmp_path / "2.2.1_TimeSlotAllotment.xml").is_file()
    assert (tmp_path / "catalog.md").read_text().count("\n| ") == len(catalog.STEPS)  # data rows
    assert '"step": "4.1.2"' in (tmp_path / "catalog.json").read_text()
    capsys.readouterr()

    assert main(["validate", *map(str, files)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(files) and all(": OK (" in line for line in lines)


def test_validate_reports_each_bad_file_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["catalog", "--out", str(tmp_path)])
    good = tmp_path / "1.1.2_ChargingRequest.xml"
    broken = tmp_path / "broken.xml"
    broken.write_bytes(good.read_bytes().replace(b"<ev:requestedEnergy>", b"<ev:requestedEnergy>-", 1))
    foreign = tmp_path / "foreign.xml"
    foreign.write_bytes(good.read_bytes().replace(b"<msg:Noun>ChargingRequest<", b"<msg:Noun>MeterReadings<"))
    capsys.readouterr()

    assert main(["validate", str(good), str(broken), str(foreign), str(tmp_path / "missing.xml")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("OK (RequestMessage ChargingRequest)")
    assert "FAILED [2.4]" in out[1] and "line " in out[1]
    assert "FAILED [2.3]" in out[2] and "not a MeterReadings payload" in out[2]
    assert "FAILED cannot read" in out[3]


def test_parser_builds_without_side_effects() -> None:
    assert build_parser().prog == "evgrid"


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    assert main(["catalog", "--out", str(tmp_path)]) == 0
    # More lines than a pipe holds (64 KB), so the writer is still writing when the reader goes.
    files = sorted(str(path) for path in tmp_path.glob("*.xml")) * 60
    validate = subprocess.Popen([sys.executable, "-m", "evgrid", "validate", *files],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    assert validate.stdout is not None
    validate.stdout.read(10)  # as `| head -c 10` does: then the reader goes away
    validate.stdout.close()
    _, stderr = validate.communicate(timeout=60)
    assert b"Traceback" not in stderr and validate.returncode == 141
