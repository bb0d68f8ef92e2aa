"""Every pair of session states: the legal moves are taken, every other is refused."""

from __future__ import annotations

from dataclasses import replace
from itertools import product

import pytest

from evgrid.operations.session import LEGAL, IllegalTransition, SessionState, advance
from tests.unit.mappings.test_ev_charging import SESSION
from tests.unit.operations.fakes import NOW

PAIRS = list(product(SessionState, SessionState))


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_transition(source: SessionState, target: SessionState) -> None:
    session = replace(SESSION, state=source)
    if target in LEGAL[source]:
        moved, transition = advance(session, target, NOW, message_id="m", detail="x")
        assert moved.state is target and session.state is source  # the original is unchanged
        assert (transition.from_state, transition.to_state, transition.message_id) == (source, target, "m")
    else:
        with pytest.raises(IllegalTransition):
            advance(session, target, NOW)


def test_every_state_is_reachable_from_requested_and_ends_somewhere() -> None:
    seen, frontier = {SessionState.REQUESTED}, [SessionState.REQUESTED]
    while frontier:
        for nxt in LEGAL[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(SessionState)
    assert {s for s in SessionState if not LEGAL[s]} == {SessionState.ACKNOWLEDGED, SessionState.CANCELLED}
