"""The simulator: simulated field devices and the demo night.

:mod:`evgrid.sim.devices` are the EVs, stations and meters behind the IEC 61850 IEDs;
:mod:`evgrid.sim.demo` plays a night with them. Production code never imports it.
"""
