"""IEC 61850 adapter: the only place in evgrid that imports the binding (pyiec61850-ng).

* :mod:`~evgrid.adapters.iec61850.scl` reads SCL (ICD/CID) with lxml into the
  dataclasses of :mod:`~evgrid.adapters.iec61850.scl_types`;
* :mod:`~evgrid.adapters.iec61850.model` builds the libiec61850 dynamic model from them;
* :mod:`~evgrid.adapters.iec61850.server` serves a model over MMS from one thread;
* :mod:`~evgrid.adapters.iec61850.client` is the MMS client (one I/O thread per client,
  :mod:`~evgrid.adapters.iec61850.iothread`; the connection state that lives on it,
  :mod:`~evgrid.adapters.iec61850.session`), with
  :mod:`~evgrid.adapters.iec61850.controls`, :mod:`~evgrid.adapters.iec61850.reports`,
  :mod:`~evgrid.adapters.iec61850.tls` and :mod:`~evgrid.adapters.iec61850.native`;
* :mod:`~evgrid.adapters.iec61850.devices` gives typed station and meter views;
* :mod:`~evgrid.adapters.iec61850.values` converts between SCL text, Python and MMS.

Importing this package does not load the binding; its submodules (except ``scl`` and
``scl_types``) do.
"""
