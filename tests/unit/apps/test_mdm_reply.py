"""The MDM's OK reply written as bytes is the codec's (xsdata's) reply, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from evgrid.apps.services.mdm import SOURCE, MeterDataManagement
from evgrid.apps.services.mdm.replies import ok_reply
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec, MessageKind
from tests.conftest import load_benchmark

CODEC = Codec()
_MSG = "{" + ns.MESSAGE + "}"


def _codec_reply(correlation_id: str | None, noun: str = "MeterReadings") -> tuple[bytes, datetime, str]:
    """What the Router writes: the codec's dump of env.reply, with the Timestamp and MessageID it chose."""
    written = CODEC.dump(env.reply(env.Result.OK, noun, source=SOURCE, correlation_id=correlation_id))
    header = etree.fromstring(written).find(_MSG + "Header")
    return (written, datetime.fromisoformat(header.findtext(_MSG + "Timestamp")),
            header.findtext(_MSG + "MessageID"))


@pytest.mark.parametrize("correlation_id", [
    "8a4f3db0-6749-4e76-a98a-3c4f0487ad9d", None, "", "a&b<c>d\"e'f", "line\rfeed\nand\ttab", "Zähler-€-1",
])
def test_ok_reply_is_the_codecs_bytes(correlation_id: str | None) -> None:
    expected, timestamp, message_id = _codec_reply(correlation_id)
    assert ok_reply("MeterReadings", source=SOURCE, correlation_id=correlation_id, timestamp=timestamp,
                    message_id=message_id) == expected


@pytest.mark.parametrize("moment", [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 7, 22, 9, 36, 120000,
                                                                                   tzinfo=UTC)])
def test_ok_reply_timestamps_as_the_codec_writes_them(moment: datetime) -> None:
    expected = CODEC.dump(env.ResponseMessage(
        header=env.header(env.Verb.REPLY, "MeterReadings", source=SOURCE, message_id="m-1", correlation_id="c-1",
                          timestamp=moment),
        reply=env.ReplyType(result=env.Result.OK)))
    assert ok_reply("MeterReadings", source=SOURCE, correlation_id="c-1", timestamp=moment,
                    message_id="m-1") == expected


def test_ok_reply_is_a_valid_response_with_a_fresh_id() -> None:
    first, second = (ok_reply("MeterReadings", source=SOURCE, correlation_id="c-1") for _ in range(2))
    inbound = CODEC.decode(first)  # parsed and validated against the schemas
    assert inbound.kind is MessageKind.RESPONSE and inbound.result == "OK"
    assert inbound.header is not None and inbound.header.correlation_id == "c-1"
    assert inbound.header.message_id != CODEC.decode(second).header.message_id  # type: ignore[union-attr]


def test_the_mdm_answers_created_readings_with_it() -> None:
    """An accepted created MeterReadings gets the written reply; one refused, the codec's FAILED."""
    mdm = MeterDataManagement()
    try:
        message = load_benchmark("bench_mdm").day_message(CODEC, 0)  # a day of a meter, 96 intervals
        reply = mdm.handle(message)
        inbound = CODEC.decode(reply)
        sent = CODEC.decode(message).header
        assert inbound.result == "OK" and inbound.header.correlation_id == sent.message_id  # type: ignore[union-attr]
        expected = ok_reply("MeterReadings", source=SOURCE, correlation_id=sent.message_id,  # type: ignore[union-attr]
                            timestamp=datetime.fromisoformat(inbound.header.timestamp),  # type: ignore[union-attr,arg-type]
                            message_id=inbound.header.message_id)  # type: ignore[union-attr]
        assert reply == expected
        assert mdm.interval_count() == 96
    finally:
        mdm.close()
