"""`evgrid validate` accepts standard IEC 61968-9 messages as other systems write them
(both the generic 61968-100 envelope and the noun-specific wrappers) and rejects the
invalid ones, exactly as the public reference schemas do."""

from __future__ import annotations

from pathlib import Path

import pytest

from evgrid.cim.codec import Codec
from evgrid.errors import AdapterError
from evgrid.mappings.validation import check_message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "messages"
VALID = sorted(p for p in FIXTURES.glob("*.xml") if "_invalid_" not in p.name)
INVALID = sorted(FIXTURES.glob("*_invalid_*.xml"))


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec()


def test_there_are_fixtures_of_each_standard_noun() -> None:
    nouns = {p.name.split("_")[0] for p in VALID}
    assert {"MeterReadings", "GetMeterReadings", "EndDeviceControls", "EndDeviceEvents"} <= nouns
    assert INVALID


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_standard_message_is_accepted(path: Path, codec: Codec) -> None:
    kind, noun = check_message(codec, path.read_bytes())
    assert noun in path.name or noun == "MeterReadings"  # GetMeterReadings asks for MeterReadings


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_standard_message_is_rejected(path: Path, codec: Codec) -> None:
    with pytest.raises(AdapterError) as error:
        check_message(codec, path.read_bytes())
    assert error.value.code.startswith("2.")
