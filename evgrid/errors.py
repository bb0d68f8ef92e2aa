"""One exception tree for evgrid: every exception evgrid raises is defined here.

Every class carries the IEC 61968-100 error ``code`` (``category.detail``) and
``level`` it is answered with, so the router can turn any of them into a
schema-valid FAILED reply. Categories (IEC 61968-100, Reply.Error.code):
0 OK / partial / acknowledgement, 1 missing element, 2 invalid parameter,
3 too many, 4 timeout, 5 application error, 6 business rule, 7 security.
Errors that never reach the wire (a bad configuration file, a child process that did
not start) keep the generic 5.0.

The tree, with codes::

    AdapterError                    5.0
    ├── MessageRejected             2.0   the message itself is unacceptable
    │   ├── MalformedXml            2.1
    │   ├── HostileXml              7.2   a DTD, an entity, an external reference
    │   ├── MessageTooLarge         3.1
    │   ├── MessageTooDeep          3.2
    │   ├── SchemaInvalid           2.4
    │   ├── MissingElement          1.0
    │   ├── InvalidParameter        2.6
    │   │   └── MessageIdReused     2.6   a MessageID already used for another message
    │   └── UnknownReference        2.7   an EV Id, station, session evgrid does not know
    ├── UnsupportedOperation        2.3   no route for this (verb, noun)
    ├── MappingError                2.5   CIM <-> domain
    ├── BusinessRuleViolation       6.0
    │   ├── AccountClosed           6.3
    │   ├── AlreadyCharging         6.4
    │   ├── StationBusy             6.5
    │   ├── MeterDataMismatch       6.6   MDM's intervals do not add up to the metered energy
    │   └── SchedulingConflict      6.1
    ├── SecurityRejected            7.0
    │   ├── Unauthenticated         7.1
    │   ├── NotAuthorized           7.3
    │   └── CredentialReplayed      7.4
    ├── DeviceError                 5.2   an IEC 61850 device refused or failed a service
    │   ├── DeviceUnreachable       4.1
    │   └── WriteRejected           5.3
    ├── UpstreamFault               5.1   billing, MDM, the broker (or the code they answered)
    ├── RequestRefused              (its error's)  the SOAP server answers before any handler
    ├── RequestFaulted              (its error's)  the SOAP server answers with a SOAP Fault
    ├── StoreError                  5.0   the database failed or refused
    ├── ImportRejected              2.0   a registry or tariff file; nothing written
    ├── SclError                    2.4   an SCL file that cannot be served
    │   └── SclUnsupported          2.3
    ├── ConfigError                 5.0   the settings, every problem with its key
    ├── PortalsFileError            5.0   the portals CSV
    ├── CertificateSetupError       5.0   the demo PKI could not be made
    ├── ServiceFailed               5.0   a child process exited or never got ready
    └── SimulationError             5.0   the simulator's own (never production)
        ├── ArrivalError                  a scripted EV arrival that cannot be
        ├── PlugOccupied                  a simulated EV at a station that already has one
        └── ControlError                  the simulator's control channel failed

Builtins are mixed in where callers expect them (``MessageRejected`` is a ValueError,
``UnknownReference`` a LookupError, ``SecurityRejected`` a PermissionError).
"""

from __future__ import annotations

from collections.abc import Sequence


class AdapterError(Exception):
    """Base of every evgrid error; answered as a FAILED 61968-100 reply.

    ``transient``: the failure says nothing about the message (a peer the handler needed
    was down), so its reply is not journaled under the MessageID: a resend is judged afresh.
    """

    code = "5.0"
    level = "FATAL"
    transient = False

    def __init__(self, reason: str, *, details: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


class MessageRejected(AdapterError, ValueError):
    """The message itself is unacceptable: malformed, hostile or schema-invalid."""

    code = "2.0"


class MalformedXml(MessageRejected):
    """Not well-formed XML (or not XML at all)."""

    code = "2.1"


class HostileXml(MessageRejected):
    """A DTD, an entity declaration or an external reference: refused unseen."""

    code = "7.2"


class MessageTooLarge(MessageRejected):
    """Larger than the configured size limit."""

    code = "3.1"


class MessageTooDeep(MessageRejected):
    """Nested deeper than the configured depth limit."""

    code = "3.2"


class SchemaInvalid(MessageRejected):
    """Well-formed but does not validate against our schemas."""

    code = "2.4"


class MissingElement(MessageRejected):
    """A required element is absent (IEC 61968-100 category 1)."""

    code = "1.0"


class InvalidParameter(MessageRejected):
    """A value that is well-formed but impossible: departure before arrival, energy <= 0, ..."""

    code = "2.6"


class UnknownReference(MessageRejected, LookupError):
    """The message refers to an object evgrid does not know (an EV Id, a station, ...)."""

    code = "2.7"

    def __init__(self, reason: str, *, mrid: str) -> None:
        super().__init__(reason, details=mrid)
        self.mrid = mrid


class UnsupportedOperation(AdapterError, LookupError):
    """No route for this (verb, noun), or an unknown message namespace."""

    code = "2.3"


class MappingError(AdapterError, ValueError):
    """A CIM object could not be mapped to the domain (or back)."""

    code = "2.5"

    def __init__(self, reason: str, *, mrid: str | None = None, path: str | None = None) -> None:
        super().__init__(reason, details=path)
        self.mrid = mrid
        self.path = path


class BusinessRuleViolation(AdapterError):
    """The request is well-formed but breaks a rule of the use case."""

    code = "6.0"


class AccountClosed(BusinessRuleViolation):
    """The EV owner's account is closed: nothing may be charged to it."""

    code = "6.3"


class AlreadyCharging(BusinessRuleViolation):
    """The EV already has a session in progress, here or elsewhere."""

    code = "6.4"


class StationBusy(BusinessRuleViolation):
    """The station already serves another EV's session."""

    code = "6.5"


class MeterDataMismatch(BusinessRuleViolation):
    """The 15-minute intervals of meter data management do not add up to a session's metered energy.

    Nothing is billed from meter data that contradicts the registers: billing answers it
    (FAILED, with both figures) instead of choosing one of them.
    """

    code = "6.6"


class SchedulingConflict(BusinessRuleViolation):
    """No slot satisfies the request within the transformer and feeder limits."""

    code = "6.1"


class SecurityRejected(AdapterError, PermissionError):
    """Missing or wrong credential, or a portal acting for a site not its own."""

    code = "7.0"


class Unauthenticated(SecurityRejected):
    """No credential, an unknown user or a wrong password."""

    code = "7.1"


class NotAuthorized(SecurityRejected):
    """Authenticated, but not allowed this operation or this customer's site."""

    code = "7.3"


class CredentialReplayed(SecurityRejected):
    """A UsernameToken nonce seen before, or a Created outside the freshness window."""

    code = "7.4"


class DeviceError(AdapterError):
    """An IEC 61850 device refused or failed a service."""

    code = "5.2"


class DeviceUnreachable(DeviceError):
    """The IED did not answer (connection refused, timed out, lost)."""

    code = "4.1"


class WriteRejected(DeviceError):
    """The IED refused a write or control; carries the 61850 reference."""

    code = "5.3"

    def __init__(self, reason: str, *, ref: str, add_cause: str | None = None) -> None:
        super().__init__(reason, details=f"{ref}: {add_cause}" if add_cause else ref)
        self.ref = ref
        self.add_cause = add_cause


class UpstreamFault(AdapterError):
    """An external system (billing, MDM, broker) failed or answered FAILED.

    Transient: a handler that needed the peer fails now and may succeed when the same
    message comes again, so its reply is not journaled (see :class:`AdapterError`).
    """

    code = "5.1"
    transient = True

    def __init__(self, reason: str, *, code: str | None = None, details: str | None = None) -> None:
        super().__init__(reason, details=details)
        if code is not None:
            self.code = code


class StoreError(AdapterError):
    """The database failed or refused: unreachable, locked, a constraint, a migration.

    Library errors (SQLAlchemy, Alembic) leave the store as this wherever a caller asks
    for translation (:func:`evgrid.adapters.store.database.translate_errors`).
    """

    code = "5.0"


class ImportRejected(AdapterError, ValueError):
    """A registry or tariff file is unacceptable, or unreadable; nothing of it was written.

    ``problems`` lists the problems found (with CSV line numbers or TOML keys) up to the
    importer's limit, ``more`` counts the rest; the reason is all of it on one line.
    """

    code = "2.0"

    def __init__(self, source: str, problems: Sequence[str], *, more: int = 0) -> None:
        """Reject ``source`` for ``problems`` (and ``more`` problems not listed)."""
        self.source = source
        self.problems = tuple(problems) or ("rejected",)
        self.more = more
        extra = f"; and {more} more problem{'s' if more > 1 else ''}" if more else ""
        super().__init__(f"{source} rejected, nothing written: {'; '.join(self.problems)}{extra}",
                         details="\n".join(self.problems))


class SclError(AdapterError, ValueError):
    """The SCL file is not usable: malformed, or references something it does not define."""

    code = "2.4"

    def __init__(self, reason: str, *, element: str | None = None, line: int | None = None) -> None:
        where = f" ({element}, line {line})" if element else ""
        super().__init__(f"{reason}{where}", details=element)
        self.element = element
        self.line = line


class SclUnsupported(SclError):
    """A valid SCL construct that evgrid's IED server does not implement."""

    code = "2.3"


class ConfigError(AdapterError):
    """The configuration is unusable; ``problems`` lists every reason, each with its key path."""

    def __init__(self, problems: list[str], *, source: str = "configuration") -> None:
        super().__init__(f"{source}: {len(problems)} problem(s): " + "; ".join(problems))
        self.problems = problems
        self.source = source


class PortalsFileError(AdapterError, ValueError):
    """The portals CSV is unreadable or inconsistent; the message names the line."""


class CertificateSetupError(AdapterError):
    """The demo certificates could not be made (no ``openssl``, or it failed)."""


class ServiceFailed(AdapterError, RuntimeError):
    """A child process exited or did not get ready in time."""


class SimulationError(AdapterError):
    """The simulator's own errors: never raised by production code."""


class ArrivalError(SimulationError, ValueError):
    """A scripted EV arrival that cannot be (bad field, unknown station, unreadable file)."""


class PlugOccupied(SimulationError, ValueError):
    """A simulated EV arrives at a station where another EV is plugged in."""


class ControlError(SimulationError, RuntimeError):
    """The simulator's control channel failed, or the IED refused the request."""


class RequestRefused(AdapterError):
    """The SOAP server refuses a request before any handler runs (its own control flow).

    Answered with ``error``'s FAILED reply (its code) and the HTTP ``status``: 401, 403,
    404, 405, 413, 415, or 200 for a refusal the 61968-100 reply says all of.
    """

    def __init__(self, status: int, error: AdapterError, noun: str | None = None,
                 correlation_id: str | None = None) -> None:
        super().__init__(error.reason, details=error.details)
        self.code, self.level = error.code, error.level
        self.status, self.error, self.noun, self.correlation_id = status, error, noun, correlation_id


class RequestFaulted(AdapterError):
    """A request the SOAP server cannot answer with a reply: a SOAP Fault (``Client``, ``VersionMismatch``...)."""

    def __init__(self, fault_code: str, error: AdapterError) -> None:
        super().__init__(error.reason, details=error.details)
        self.code, self.level = error.code, error.level
        self.fault_code, self.error = fault_code, error


class MessageIdReused(InvalidParameter):
    """A MessageID already used for another message (another verb, noun or payload): refused, nothing changed."""

    code = "2.6"
