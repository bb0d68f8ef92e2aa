"""The charging session: one state per step of the use case, and the legal moves.

Every transition is persisted by the store with the step and message that caused it
(session_transitions), so a session's history is its audit trail. An illegal
transition is refused with :class:`IllegalTransition` (61968-100 code 6.2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from evgrid.errors import BusinessRuleViolation
from evgrid.operations.model import ChargingKind, Rate


class SessionState(enum.Enum):
    """Where a session is in the use case (step numbers in the comments)."""

    REQUESTED = "requested"  # 1.1.2 the portal's request is in
    CLASSIFIED = "classified"  # 1.2 / 3.1 home or third party decided
    RATED = "rated"  # 2.1 / 3.1.2 applicable rate found
    CONFIRMED = "confirmed"  # 2.1.1 / 3.1.3 requirements confirmed (OK or PARTIAL)
    SCHEDULED = "scheduled"  # 2.2 / 3.2 slot assigned, start time sent (2.2.1 / 3.2.1)
    CHARGING = "charging"  # 2.3 / 3.3 contactor closed, register read at start
    COMPLETED = "completed"  # 2.3.4 / 3.3.4 EV full or left, register read at end
    SETTLED = "settled"  # 3.3.5 energy moved from the host's account to the owner's
    BILLING = "billing"  # 4.1 consumption and rate handed to billing (outbox)
    BILLED = "billed"  # 4.1.1 bill information received, sent to the owner's portal
    ACKNOWLEDGED = "acknowledged"  # 4.1.2 the scheduler has its acknowledgment
    CANCELLED = "cancelled"  # unplugged before charging started


S = SessionState
LEGAL: dict[SessionState, frozenset[SessionState]] = {
    S.REQUESTED: frozenset({S.CLASSIFIED, S.CANCELLED}),
    S.CLASSIFIED: frozenset({S.RATED, S.CANCELLED}),
    S.RATED: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.SCHEDULED, S.CANCELLED}),
    # A scheduled session may be re-planned (SCHEDULED again) or leave before its start.
    S.SCHEDULED: frozenset({S.SCHEDULED, S.CHARGING, S.COMPLETED, S.CANCELLED}),
    # A charging session may be re-planned too (CHARGING again): a transformer read over its limit.
    S.CHARGING: frozenset({S.CHARGING, S.COMPLETED}),
    S.COMPLETED: frozenset({S.SETTLED, S.BILLING}),
    S.SETTLED: frozenset({S.BILLING}),
    S.BILLING: frozenset({S.BILLED}),
    S.BILLED: frozenset({S.ACKNOWLEDGED}),
    S.ACKNOWLEDGED: frozenset(),
    S.CANCELLED: frozenset(),
}
# An EV may hold one session at a time in these states (no charging in two places).
ACTIVE = frozenset({S.REQUESTED, S.CLASSIFIED, S.RATED, S.CONFIRMED, S.SCHEDULED, S.CHARGING})


class IllegalTransition(BusinessRuleViolation):
    """The session is not in a state from which this step may happen."""

    code = "6.2"


@dataclass(frozen=True, slots=True)
class Transition:
    """One persisted state change."""

    session_id: str
    from_state: SessionState | None
    to_state: SessionState
    at_utc: datetime
    message_id: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """A charging session from plug-in to acknowledgment."""

    session_id: str
    request_mrid: str
    ev_id: str
    station_id: str
    premise_number: str
    meter_number: str
    transformer_id: str
    owner_account_id: str
    host_account_id: str
    kind: ChargingKind
    state: SessionState
    requested_wh: int
    max_power_kw: Decimal
    plugged_in_utc: datetime
    departure_utc: datetime
    reachable_wh: int | None = None
    tariff_id: str | None = None
    rate: Rate | None = None  # 2.1 / 3.1.2, with tariff_id; None before rating
    planned_start_utc: datetime | None = None
    planned_end_utc: datetime | None = None
    planned_wh: int | None = None
    started_utc: datetime | None = None
    start_register_wh: int | None = None
    end_register_wh: int | None = None
    consumed_wh: int | None = None
    completed_utc: datetime | None = None

    @property
    def third_party(self) -> bool:
        """True for a charge at another customer's premise (use-case 3.x)."""
        return self.kind is ChargingKind.THIRD_PARTY


def advance(session: Session, to: SessionState, at_utc: datetime, *, message_id: str | None = None,
            detail: str | None = None, **changes: object) -> tuple[Session, Transition]:
    """Move ``session`` to ``to`` (with field ``changes``); refuse an illegal move."""
    if to not in LEGAL[session.state]:
        raise IllegalTransition(
            f"session {session.session_id} is {session.state.value}; it cannot become {to.value}"
        )
    moved = replace(session, state=to, **changes)  # type: ignore[arg-type]
    return moved, Transition(session.session_id, session.state, to, at_utc, message_id, detail)


def opened(session: Session, at_utc: datetime, message_id: str | None) -> Transition:
    """The first transition of a new session (into REQUESTED)."""
    return Transition(session.session_id, None, SessionState.REQUESTED, at_utc, message_id, "1.1.2")
