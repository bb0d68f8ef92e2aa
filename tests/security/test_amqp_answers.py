"""The answer of the ESB binding to a message it gives up on (dead-lettered after unexpected
errors): FAILED 5.0, schema-valid, correlated with the request's MessageID, and nothing of
the error in it; and when a delivery is the last try. On a broker:
tests/integration/test_amqp.py (``test_a_message_dead_lettered_after_unexpected_errors_...``)."""

from __future__ import annotations

from typing import Any

import pytest
from pika.spec import BasicProperties

from evgrid.adapters.esb.binding import EsbBinding
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from tests.integration.test_operation_system import request_message

MSG = f"{{{ns.MESSAGE}}}"
codec = Codec()


class Exploding:
    """A router that fails unexpectedly every time, and has a codec and a source to lend."""

    codec = codec
    source = "evgrid-evos"

    def handle(self, data: bytes, **_options: Any) -> bytes:
        raise RuntimeError("password=hunter2 in a stack nobody should see")


def binding(router: Any = None, max_tries: int = 3) -> EsbBinding:
    return EsbBinding(router or Exploding(), "amqp://guest:guest@127.0.0.1:1/", nouns=["ChargingRequest"],
                      max_tries=max_tries)


def answer(reply: bytes) -> tuple[str | None, str | None, str | None, str | None]:
    root = codec.parse(reply)
    codec.validate(root)  # schema-valid 61968-100
    return (root.findtext(f"{MSG}Reply/{MSG}Result"), root.findtext(f"{MSG}Reply/{MSG}Error/{MSG}code"),
            root.findtext(f"{MSG}Header/{MSG}CorrelationID"), root.findtext(f"{MSG}Header/{MSG}Noun"))


def test_the_reply_to_a_message_given_up_on_is_failed_5_0_with_its_message_id() -> None:
    reply = binding()._failed_reply(request_message("EV-1001", "S-1001", "C-1001", "UP-1001", message_id="M-7"))
    assert answer(reply) == ("FAILED", "5.0", "M-7", "ChargingRequest")
    assert b"hunter2" not in reply and b"RuntimeError" not in reply


def test_an_undecodable_message_given_up_on_still_gets_a_valid_failed_reply() -> None:
    class Plain:  # no codec of its own to lend: the binding's
        def handle(self, data: bytes, **_options: Any) -> bytes:
            raise RuntimeError("boom")

    result, code, correlation, _noun = answer(binding(Plain())._failed_reply(b"<not xml"))
    assert (result, code, correlation) == ("FAILED", "5.0", None)


@pytest.mark.parametrize(("headers", "last"), [
    (None, False), ({}, False), ({"x-delivery-count": 1}, False), ({"x-delivery-count": 2}, True),
    ({"x-delivery-count": 7}, True), ({"x-delivery-count": "junk"}, False),
])
def test_the_last_try_is_the_one_the_broker_dead_letters_if_returned(headers: dict[str, Any] | None,
                                                                      last: bool) -> None:
    # max_tries 3: x-delivery-limit 2 returns; x-delivery-count counts the returns so far.
    assert binding(max_tries=3)._last_try(BasicProperties(headers=headers)) is last


def test_with_one_try_the_first_delivery_is_the_last() -> None:
    assert binding(max_tries=1)._last_try(BasicProperties()) is True
