"""MMS client adapter: one IED connection served by one dedicated I/O thread.

The binding keeps the GIL while it blocks, and two threads using it in one process
collapse throughput (about 18,000 to 100 reads/s). So every call into the binding
happens on the client's own I/O thread (:mod:`~evgrid.adapters.iec61850.iothread`),
where the connection state lives (:mod:`~evgrid.adapters.iec61850.session`). The
public methods are thread-safe: called from another thread they hand their work over
and wait with a timeout; called on the I/O thread (in a report callback, a connection
listener or a function given to :meth:`IedClient.run`) they run inline.

The hand-off is a thread round trip (40-50 us on a 2-vCPU VM, a third or more of a
loopback read), so code that makes many calls runs them on the I/O thread: with
:meth:`IedClient.run` for a burst of work, :meth:`IedClient.read_many` for a list of
references, or from a report callback (how the portal reacts to its devices).

The client reconnects by itself when the connection is lost (``reconnect=True``):
after reconnecting it re-creates its controls, re-enables its reports with a general
interrogation (so subscribers get a fresh snapshot) and tells ``on_connection``
listeners. Whether the *IED* restarted is the caller's question (LPHD1.NumPwrUp).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Self, TypeVar

from evgrid.adapters.iec61850.iothread import IoThread
from evgrid.adapters.iec61850.session import (
    ConnectionEvent,
    ReportCallback,
    Session,
    Subscription,
)
from evgrid.adapters.iec61850.tls import TlsSettings
from evgrid.adapters.iec61850.values import Value

__all__ = ["ConnectionEvent", "IedClient", "ReportCallback"]

T = TypeVar("T")


class IedClient:
    """Thread-safe MMS client of one IED; a context manager (connect ... close)."""

    def __init__(
        self,
        host: str,
        port: int = 102,
        *,
        timeout_s: float = 2.0,
        reconnect: bool = True,
        retry_interval_s: float = 0.2,
        origin: str = "evgrid",
        tls: TlsSettings | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.origin = origin
        self._batch: list[Subscription] | None = None
        self._label = f"{host}:{port}"  # names the IED in hand-off errors, built once
        self._io = IoThread(f"iec61850-io-{host}:{port}", idle_s=retry_interval_s, on_idle=self._housekeeping)
        self._session = Session(
            host,
            port,
            timeout_s=timeout_s,
            reconnect=reconnect,
            retry_interval_s=retry_interval_s,
            tls=tls,
            post=self._io.post,
        )

    # --- lifecycle ---------------------------------------------------------------------
    def connect(self) -> None:
        """Connect (starting the I/O thread); DeviceUnreachable when the IED does not answer."""
        self._io.start()
        self._call(self._session.connect)

    def close(self) -> None:
        """Disable reports, close the connection and stop the I/O thread."""
        if not self._io.running:
            return
        try:
            self._call(self._session.close)
        finally:
            self._io.stop()
            self._session.release_tls()

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """True while the MMS association is up."""
        return self._session.connection is not None

    @property
    def on_io_thread(self) -> bool:
        """True when the caller runs on this client's I/O thread (calls run inline)."""
        return self._io.on_thread

    def on_connection(self, listener: Callable[[ConnectionEvent], None]) -> None:
        """Call ``listener`` (on the I/O thread) when the connection comes up or is lost."""
        self._session.listeners.append(listener)

    def run(self, fn: Callable[[], T], *, timeout_s: float | None = None) -> T:
        """Run ``fn`` on the client's I/O thread and return its result (or raise its error).

        Every call ``fn`` makes on this client runs inline, without a thread hand-off
        each: use it for a burst of reads and operates (a poll cycle, a dispatch).
        Called on the I/O thread already, it simply calls ``fn``.

        While ``fn`` runs, reports wait and reconnects are put off, so keep it short, and
        never let it wait for another thread that uses this client (that thread waits
        for this one). ``fn`` must not call :meth:`close`.

        Args:
            fn: The work; it may call any method of this client.
            timeout_s: How long the caller waits for ``fn`` to finish (default: the
                request timeout); raises DeviceUnreachable then, while ``fn`` goes on.
        """
        return self._call(fn, timeout_s=timeout_s)

    # --- services ----------------------------------------------------------------------
    def read(self, ref: str, fc: str) -> Value:
        """Read one data attribute (or a whole data object / LN as nested lists)."""
        return self._call(lambda: self._session.read(ref, fc))

    def read_many(self, items: Sequence[tuple[str, str]]) -> list[Value]:
        """Read several references in one hand-off to the I/O thread."""
        return self._call(
            lambda: [self._session.read(ref, fc) for ref, fc in items],
            timeout_s=self.timeout_s * max(1, len(items)),
        )

    def read_dataset(self, ref: str) -> list[Value]:
        """Read the members of data set ``ref`` (e.g. ``EVSESTA/LLN0.EVState``) in order."""
        return self._call(lambda: self._session.read_dataset(ref), timeout_s=self.timeout_s * 20)

    def operate(
        self,
        ref: str,
        value: float,
        *,
        test: bool = False,
        interlock_check: bool = False,
        synchro_check: bool = False,
    ) -> None:
        """Operate controllable object ``ref`` with its declared control model.

        Returns when the IED accepted the command; WriteRejected carries the AddCause
        when it refused it.
        """
        self._call(
            lambda: self._session.operate(
                ref,
                value,
                test=test,
                interlock_check=interlock_check,
                synchro_check=synchro_check,
                origin=self.origin,
            ),
            timeout_s=self.timeout_s * 3,
        )

    def prepare_controls(self, refs: Sequence[str]) -> None:
        """Create the control handles of ``refs`` in one go (see :meth:`Session.prepare_controls`)."""
        self._call(lambda: self._session.prepare_controls(list(refs)), timeout_s=self.timeout_s * (10 + len(refs)))

    def subscribe(self, rcb: str, callback: ReportCallback) -> None:
        """Receive the reports of RCB ``rcb`` (a free indexed instance is taken when needed).

        The callback runs on the I/O thread; it first gets a general-interrogation
        snapshot, and again after every reconnect.
        """
        subscription = Subscription(rcb, callback)
        if self._batch is not None:
            self._batch.append(subscription)
            return
        self._call(lambda: self._session.subscribe(subscription), timeout_s=self.timeout_s * 10)

    @contextmanager
    def subscribing(self) -> Iterator[IedClient]:
        """Collect the :meth:`subscribe` calls of the block and make them at its end, together.

        Each subscription on a connection with reports enabled pauses them all; a batch
        pauses them once (see :meth:`Session.subscribe_all`).
        """
        self._batch = []
        try:
            yield self
        except BaseException:
            self._batch = None
            raise
        batch, self._batch = self._batch, None
        if batch:
            self._call(lambda: self._session.subscribe_all(batch), timeout_s=self.timeout_s * (10 + len(batch)))

    # --- I/O thread ----------------------------------------------------------------------
    def _call(self, fn: Callable[[], T], *, timeout_s: float | None = None) -> T:
        # The margin over the request timeout leaves room for the I/O thread's queue.
        return self._io.call(fn, (timeout_s or self.timeout_s) + self.timeout_s, self._label)

    def _housekeeping(self, now: float) -> None:
        self._session.housekeeping(now)
