"""Code tables of IEC 61968-9 used by evgrid, defined once.

ReadingType mRIDs are the 18 dotted fields of IEC 61968-9 Annex C (macroPeriod.
aggregate.measuringPeriod.accumulation.flowDirection.commodity.measurementKind.
interharmonic(2).argument(2).TOU.CPP.consumptionTier.phases.multiplier.unit.currency).
EndDeviceEventType / EndDeviceControlType mRIDs are deviceType.domain.subDomain.
eventOrAction (Annex E).
"""

from __future__ import annotations

# Cumulative forward active energy register, kWh (multiplier 3 = k, unit 72 = Wh).
REGISTER_KWH = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
# 15-minute interval forward active energy, kWh.
INTERVAL_15MIN_KWH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
# Cumulative forward active energy register, Wh (multiplier 0): what an IEC 61850
# MMTR.TotWh counter holds, so no rounding happens between the meter and billing.
REGISTER_WH = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.0.72.0"
# 15-minute interval forward active energy, Wh (macroPeriod 0, aggregate 0, measuringPeriod 2
# = 15 min, accumulation 4 = delta data): the energy of one interval, stamped with its end.
INTERVAL_15MIN_WH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0"

# End device controls: electric meter (3), RCD switch (31) - close / open the load switch.
CONNECT_LOAD_SWITCH = "3.31.0.18"
DISCONNECT_LOAD_SWITCH = "3.31.0.23"

# End device events of the electric vehicle (EndDeviceType 58). Plug-in follows the
# associatedDevice (39) connected (42) pattern; the edition of IEC 61968-9 we follow has
# no "charging complete" code, so evgrid assigns one in the power domain (26).
EV_PLUGGED_IN = "58.39.0.42"
EV_UNPLUGGED = "58.39.0.68"
EV_CHARGING_COMPLETE = "58.26.0.216"
