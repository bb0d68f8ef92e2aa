"""One exception tree for evgrid.

Every class carries the IEC 61968-100 error ``code`` (``category.detail``) and
``level`` it is answered with, so the router can turn any of them into a
schema-valid FAILED reply. Categories (IEC 61968-100, Reply.Error.code):
0 OK / partial / acknowledgement, 1 missing element, 2 invalid parameter,
3 too many, 4 timeout, 5 application error, 6 business rule, 7 security.
"""

from __future__ import annotations


class AdapterError(Exception):
    """Base of every evgrid error; answered as a FAILED 61968-100 reply."""

    code = "5.0"
    level = "FATAL"

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


class SchedulingConflict(BusinessRuleViolation):
    """No slot satisfies the request within the transformer and feeder limits."""

    code = "6.1"


class SecurityRejected(AdapterError, PermissionError):
    """Missing or wrong credential, or a portal acting for a site not its own."""

    code = "7.0"


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
    """An external system (billing, MDM, broker) failed or answered FAILED."""

    code = "5.1"

    def __init__(self, reason: str, *, code: str | None = None, details: str | None = None) -> None:
        super().__init__(reason, details=details)
        if code is not None:
            self.code = code
