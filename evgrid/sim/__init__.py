"""Simulated hardware behind the IEC 61850 IEDs: EVs, charging stations and meters.

The simulation is plain Python (no protocol library): :mod:`evgrid.sim.station` and
:mod:`evgrid.sim.meter` model the devices, :mod:`evgrid.sim.clock` the accelerated
clock, :mod:`evgrid.sim.arrivals` the scripted EV arrivals and :mod:`evgrid.sim.control`
the loopback channel through which tests and the demo drive the hardware from another
process. :mod:`evgrid.sim.field` binds the devices to the data model of an IED served
by :mod:`evgrid.adapters.iec61850.server`.
"""
