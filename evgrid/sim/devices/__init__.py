"""Simulated hardware behind the IEC 61850 IEDs: EVs, charging stations and meters.

Plain Python (no protocol library): :mod:`~evgrid.sim.devices.station` and
:mod:`~evgrid.sim.devices.meter` model the devices, :mod:`~evgrid.sim.devices.arrivals`
the scripted EV arrivals and :mod:`~evgrid.sim.devices.control` the loopback channel
through which tests and the demo drive the hardware from another process.
:mod:`~evgrid.sim.devices.field` binds the devices to the data model of an IED served by
:mod:`evgrid.adapters.iec61850.server`; :mod:`~evgrid.sim.devices.ied` is that IED.
"""
