"""What billing writes directly is the codec's (xsdata's) bytes: the get of MDM's intervals and the stored bill."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from lxml import etree

from evgrid.apps.services.billing import meter_readings_get, meter_readings_request, stored_bill
from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec
from evgrid.mappings import writers
from evgrid.mappings.ev_charging import bill_to_cim
from evgrid.operations.events import BillInformation
from evgrid.operations.rates import ChargeLine

CODEC = Codec()
STAMP = datetime(2026, 12, 7, 22, 9, 36, 120000, tzinfo=UTC)
MRID_CHARS = "ABCXYZ0123456789-_:.&<>\"'é€"


def mrid(rng: random.Random) -> str:
    return "".join(rng.choice(MRID_CHARS) for _ in range(rng.choice((1, 5, 30))))


@pytest.mark.parametrize("seed", range(30))
def test_the_get_is_the_codecs_bytes(seed: int) -> None:
    rng = random.Random(seed)
    start = (datetime(2026, 1, 15, 21, tzinfo=UTC) + timedelta(minutes=15 * rng.randrange(40))).astimezone(
        rng.choice((UTC, timezone(timedelta(hours=1)))))
    end = start + timedelta(minutes=15 * rng.randrange(1, 40))
    usage_point, meter = mrid(rng), rng.choice((None, mrid(rng)))
    expected = meter_readings_request(usage_point, meter, start, end)
    expected.header.timestamp = env.xml_now(STAMP)
    expected.header.message_id = "m-1"
    written = meter_readings_get(usage_point, meter, start, end, message_id="m-1", timestamp=STAMP)
    assert written == CODEC.dump(expected)
    CODEC.decode(written)  # schema-valid


def test_the_get_gets_a_fresh_message_id_and_time() -> None:
    first = CODEC.decode(meter_readings_get("UP-1", "M-1", STAMP, STAMP + timedelta(hours=1))).header
    second = CODEC.decode(meter_readings_get("UP-1", "M-1", STAMP, STAMP + timedelta(hours=1))).header
    assert first is not None and second is not None and first.message_id != second.message_id
    assert datetime.fromisoformat(first.timestamp or "") > STAMP


@pytest.mark.parametrize("seed", range(20))
def test_the_stored_bill_is_the_codecs_element(seed: int) -> None:
    rng = random.Random(seed)
    lines = tuple(ChargeLine(rng.choice(("EV night", 'A & B <"x">', "r\rn")), rng.randrange(10**4),
                             Decimal("0.210000"), Decimal(rng.choice(("0.21", "17.50"))), *rng.choice(((0, 0), (4, 1))))
                  for _ in range(rng.choice((1, 3))))
    bill = BillInformation(f"BILL-{mrid(rng)}", mrid(rng), mrid(rng), "EUR", lines,
                           sum(line.energy_wh for line in lines), sum((line.amount for line in lines), Decimal(0)),
                           STAMP + timedelta(seconds=rng.randrange(10**5)))
    assert stored_bill(writers.bill(bill)) == etree.tostring(CODEC.to_element(bill_to_cim(bill)))
