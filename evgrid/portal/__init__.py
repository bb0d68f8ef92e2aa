"""The Customer Communication Portal: one per site, between its IEC 61850 devices and the utility.

:mod:`evgrid.portal.site` is the portal's behaviour, pure and behind ports (the station,
the meter, the uplink to the EV Operation System, a clock); :mod:`evgrid.portal.model`
its values. The host that runs many site portals on one IEC 61850 connection and serves
their CIM endpoint lives in :mod:`evgrid.apps.portal.host`.
"""
