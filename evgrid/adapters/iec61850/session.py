"""The I/O-thread side of the MMS client: one association and what hangs on it.

A :class:`Session` owns the binding's IedConnection of one :class:`~evgrid.adapters.
iec61850.client.IedClient`, its control handles and its report subscriptions. Every
method runs on the client's I/O thread (:mod:`~evgrid.adapters.iec61850.iothread`), so
nothing here locks: the client hands work over, or runs it inline when the caller is
already on that thread.

Reads, writes, selects, operates and RCB settings use the binding's GIL-releasing
calls, connect/close/destroy go through ctypes (:mod:`~evgrid.adapters.iec61850.native`);
the few calls left that keep the GIL while they block (control and report-handler
set-up, data-set directories) run only while no report can arrive: before reports are
enabled, or with the connection's RCBs briefly disabled (:meth:`Session.quiesced`).

Measured properties of libiec61850 1.6.1 this session lives with:

* with two or more IedConnections in one process every request of each takes 10-20 ms
  (16,000 -> 50-100 reads/s here): talk to many stations through one gateway IED;
* now and then a fresh association answers nothing ("connection lost" while TCP is up):
  every new association is probed once and replaced when it is dead (:meth:`_usable`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pyiec61850.pyiec61850 as iec

from evgrid.adapters.iec61850 import native, reports
from evgrid.adapters.iec61850 import tls as tls_config
from evgrid.adapters.iec61850.controls import CONNECTION_ERRORS, ControlHandle
from evgrid.adapters.iec61850.reports import Report
from evgrid.adapters.iec61850.tls import TlsSettings
from evgrid.adapters.iec61850.values import Value, from_mms
from evgrid.errors import DeviceError, DeviceUnreachable

log = logging.getLogger(__name__)
T = TypeVar("T")
FCS = {
    name: getattr(iec, f"IEC61850_FC_{name}")
    for name in ("ST", "MX", "SP", "SV", "CF", "DC", "SG", "SE", "SR", "OR", "BL", "EX", "CO")
}
ReportCallback = Callable[[Report], None]
CONNECT_ATTEMPTS = 3


class ConnectionEvent(enum.Enum):
    """What ``on_connection`` listeners hear."""

    CONNECTED = "connected"
    LOST = "lost"


@dataclass(slots=True)
class Subscription:
    """One report subscription: the RCB asked for, the instance taken, the callback."""

    base: str
    callback: ReportCallback
    rcb: str | None = None
    keep: Any = None
    enabled: bool = False


class Session:
    """The association with one IED, used on the client's I/O thread only."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout_s: float,
        reconnect: bool,
        retry_interval_s: float,
        tls: TlsSettings | None,
        post: Callable[[Callable[[], None]], None],
    ) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.reconnect = reconnect
        self.retry_interval_s = retry_interval_s
        self.tls = tls
        self._post = post  # queues work on the I/O thread from the library's thread
        self._tls_config: Any = None
        self.connection: Any = None
        self.wanted = False
        self._next_attempt = 0.0
        self.controls: dict[str, ControlHandle | None] = {}
        self.subscriptions: list[Subscription] = []
        self.listeners: list[Callable[[ConnectionEvent], None]] = []
        self.datasets: dict[str, list[tuple[str, str]]] = {}

    # --- connection management ----------------------------------------------------------
    def connect(self) -> None:
        """Associate (if not yet), re-create controls and re-enable subscriptions."""
        if self.connection is not None:
            return
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            connection = self._new_connection()
            iec.IedConnection_setConnectTimeout(connection, int(self.timeout_s * 1000))
            iec.IedConnection_setRequestTimeout(connection, int(self.timeout_s * 1000))
            error = native.connect(connection, self.host, self.port)
            if error == iec.IED_ERROR_OK and self._usable(connection):
                break
            native.destroy(connection)
            if error != iec.IED_ERROR_OK:
                raise DeviceUnreachable(
                    f"cannot connect to IED at {self.host}:{self.port}: {iec.IedClientError_toString(error)}"
                )
            log.info("association with %s:%d unusable (attempt %d): again", self.host, self.port, attempt)
        else:
            raise DeviceUnreachable(f"no usable association with IED at {self.host}:{self.port}")
        self.connection = connection
        try:
            # Nothing is enabled yet: the blocking set-up calls are safe here.
            for ref in list(self.controls):
                self.controls[ref] = ControlHandle(connection, ref)
            self.prepare(self.subscriptions)
            for subscription in self.subscriptions:
                self.enable(subscription)
        except DeviceError:
            self.drop(emit=False)
            raise
        self.wanted = True  # from now on a lost connection is re-established
        log.info("connected to IED at %s:%d", self.host, self.port)
        self._emit(ConnectionEvent.CONNECTED)

    def close(self) -> None:
        """Disable reports and close; no reconnect afterwards."""
        self.wanted = False
        if self.connection is None:
            return
        for subscription in self.subscriptions:
            try:
                self._set_enabled(subscription, False)
            except DeviceError as exc:  # closing anyway; a dropped connection is closed already
                log.debug("disabling %s on close: %s", subscription.rcb, exc)
        if self.connection is not None:
            native.close(self.connection)
            self._teardown()

    def release_tls(self) -> None:
        """Free the TLS configuration (after the I/O thread ended)."""
        tls_config.release(self._tls_config)
        self._tls_config = None

    def housekeeping(self, now: float) -> None:
        """Notice a lost link and reconnect when due (the I/O thread's idle work)."""
        self._check_alive()
        if self.wanted and self.connection is None and self.reconnect and now >= self._next_attempt:
            self._next_attempt = now + self.retry_interval_s
            try:
                self.connect()
            except DeviceError as exc:
                log.debug("reconnect to %s:%d failed: %s", self.host, self.port, exc)

    def _new_connection(self) -> Any:
        if self.tls is None:
            return iec.IedConnection_create()
        if self._tls_config is None:
            self._tls_config = tls_config.configuration(self.tls, client=True)
        return iec.IedConnection_createWithTlsSupport(self._tls_config)

    @staticmethod
    def _usable(connection: Any) -> bool:
        # libiec61850 1.6 now and then hands out an association whose every request
        # fails with "connection lost" while TCP is fine; probe it with a read of a
        # name no IED has (the answer is an error, but an answer).
        value, error = iec.pyWrap_IedConnection_readObject(connection, "evgrid/probe.x", iec.IEC61850_FC_ST)
        iec.MmsValue_delete(value)
        return error not in CONNECTION_ERRORS

    def _check_alive(self) -> None:
        if (
            self.connection is not None
            and iec.IedConnection_getState(self.connection) != iec.IED_STATE_CONNECTED
        ):
            log.warning("connection to IED at %s:%d lost", self.host, self.port)
            self.drop()

    def drop(self, *, emit: bool = True) -> None:
        """Close (without the GIL, see :mod:`native`) and forget the connection."""
        if self.connection is None:
            return
        native.close(self.connection)
        self._teardown()
        self._next_attempt = 0.0  # reconnect at once
        if emit:
            self._emit(ConnectionEvent.LOST)

    def _teardown(self) -> None:
        for ref, handle in self.controls.items():
            if handle is not None:
                handle.destroy()
            self.controls[ref] = None
        connection, self.connection = self.connection, None
        if connection is not None:
            native.destroy(connection)
        for subscription in self.subscriptions:
            if subscription.rcb is not None:
                reports.CLAIMS.release(subscription.rcb, self)
            subscription.rcb = subscription.keep = None
            subscription.enabled = False
        self.datasets.clear()

    def _emit(self, event: ConnectionEvent) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # callback boundary
                log.exception("connection listener failed on %s", event.value)

    def require(self) -> Any:
        """The live connection, or DeviceUnreachable."""
        if self.connection is None:
            raise DeviceUnreachable(
                f"not connected to IED at {self.host}:{self.port}"
                + (" (reconnecting)" if self.wanted else "")
            )
        return self.connection

    def quiesced(self, fn: Callable[[], T]) -> T:
        """Run a GIL-keeping blocking call with this connection's reports disabled."""
        enabled = [s for s in self.subscriptions if s.enabled]
        for subscription in enabled:
            self._set_enabled(subscription, False)
        try:
            return fn()
        finally:
            for subscription in enabled:
                self.enable(subscription)

    # --- services ---------------------------------------------------------------------------
    def read(self, ref: str, fc: str) -> Value:
        """Read one reference; retried once on a fresh association (reads are idempotent)."""
        try:
            return self._read_once(ref, fc)
        except DeviceUnreachable:
            if not (self.reconnect and self.wanted):
                raise
            self.connect()
            return self._read_once(ref, fc)

    def _read_once(self, ref: str, fc: str) -> Value:
        value, error = iec.pyWrap_IedConnection_readObject(self.require(), ref, FCS[fc])
        try:
            if error != iec.IED_ERROR_OK:  # the hot path: no message built for a good read
                self.check(error, f"read {ref} [{fc}]")
            return from_mms(value)
        except LookupError as exc:
            raise DeviceError(f"read {ref} [{fc}]: {exc}") from None
        finally:
            iec.MmsValue_delete(value)

    def check(self, error: int, what: str) -> None:
        """Raise for a binding error code; a connection error also drops the connection."""
        if error == iec.IED_ERROR_OK:
            return
        text = iec.IedClientError_toString(error)
        if error in CONNECTION_ERRORS:
            self.drop()
            raise DeviceUnreachable(f"{what}: {text}")
        raise DeviceError(f"{what}: {text}")

    def read_dataset(self, ref: str) -> list[Value]:
        """Read the members of data set ``ref`` (directory fetched once, then cached)."""
        members = self.datasets.get(ref)
        if members is None:
            members = self.quiesced(lambda: self._dataset_directory(ref))
            self.datasets[ref] = members
        return [self.read(member, fc) for member, fc in members]

    def _dataset_directory(self, ref: str) -> list[tuple[str, str]]:
        members, error = reports.dataset_directory(self.require(), ref)
        self.check(error, f"directory of data set {ref}")
        return members

    def operate(
        self, ref: str, value: float, *, test: bool, interlock_check: bool, synchro_check: bool, origin: str
    ) -> None:
        """Operate ``ref`` through its (cached) control handle; see ControlHandle.operate."""
        connection = self.require()
        handle = self.controls.get(ref)
        if handle is None:
            handle = self.quiesced(lambda: ControlHandle(connection, ref))
            self.controls[ref] = handle
        try:
            handle.operate(
                connection,
                value,
                test=test,
                interlock_check=interlock_check,
                synchro_check=synchro_check,
                origin=origin,
            )
        except DeviceUnreachable:
            self.drop()
            raise

    def prepare_controls(self, refs: list[str]) -> None:
        """Create the control handles of ``refs`` now, together, rather than at each first operate.

        Creating a handle is a GIL-keeping blocking call, so it runs with reports paused:
        one pause for all of them instead of one per object (a gateway has thousands).
        Handles are re-created at every reconnect.
        """
        missing = [ref for ref in refs if self.controls.get(ref) is None]
        if not missing:
            return
        if self.connection is None:
            self.controls.update(dict.fromkeys(missing))  # created at connect
            return
        connection = self.connection

        def create() -> None:
            for ref in missing:
                self.controls[ref] = ControlHandle(connection, ref)

        self.quiesced(create)

    # --- reports ------------------------------------------------------------------------------
    def subscribe(self, subscription: Subscription) -> None:
        """Take an RCB instance and enable it now when connected; keep it for reconnects."""
        self.subscribe_all([subscription])

    def subscribe_all(self, subscriptions: list[Subscription]) -> None:
        """Like :meth:`subscribe` for many at once: the others' reports pause once, not once each.

        Pausing means disabling and re-enabling (with a general interrogation) every RCB
        already enabled, so subscribing N one by one costs O(N^2) MMS writes; a gateway
        portal host subscribes thousands.
        """
        if self.connection is not None:
            try:
                self.quiesced(lambda: self.prepare(subscriptions))
                for subscription in subscriptions:
                    self.enable(subscription)
            except DeviceError:
                for subscription in subscriptions:
                    if subscription.rcb is not None:
                        reports.CLAIMS.release(subscription.rcb, self)
                raise
        self.subscriptions.extend(subscriptions)

    def prepare(self, subscriptions: list[Subscription]) -> None:
        """Pick a free RCB instance per subscription and install its handler.

        Runs while no report can arrive on the connection (see the module docstring).
        """
        for subscription in subscriptions:
            instances, error = reports.rcb_instances(self.connection, subscription.base)
            self.check(error, f"RCB {subscription.base}")
            for candidate in instances:
                state = reports.rcb_state(self.connection, candidate)
                if state is None or not state[0] or not reports.CLAIMS.claim(candidate, self):
                    continue
                subscription.keep = reports.install(
                    self.connection, candidate, state[1], self._sink(subscription)
                )
                subscription.rcb = candidate
                break
            if subscription.rcb is None:
                raise DeviceError(
                    f"no free report control block {subscription.base}[01..] on {self.host}:{self.port}"
                )

    def _sink(self, subscription: Subscription) -> Callable[[Report], None]:
        # Runs on the library's thread: only hand the report over to the I/O thread.
        return lambda report: self._post(lambda: self._deliver(subscription, report))

    @staticmethod
    def _deliver(subscription: Subscription, report: Report) -> None:
        try:
            subscription.callback(report)
        except Exception:  # callback boundary: a listener's failure must not stop the client
            log.exception("report callback for %s failed", subscription.base)

    def enable(self, subscription: Subscription) -> None:
        """Enable reporting, then ask for a general interrogation."""
        self._set_enabled(subscription, True)
        if subscription.enabled and subscription.rcb is not None:
            # A general interrogation gives the subscriber the current state at once.
            error = reports.set_rcb(self.connection, subscription.rcb, "GI", True)
            self.check(error, f"GI of {subscription.rcb}")

    def _set_enabled(self, subscription: Subscription, enabled: bool) -> None:
        if subscription.rcb is None or self.connection is None:
            return
        error = reports.set_rcb(self.connection, subscription.rcb, "RptEna", enabled)
        self.check(error, f"RptEna of {subscription.rcb}")
        subscription.enabled = enabled
