"""Every IEC 61850 reference evgrid uses, defined once.

The station and meter IEDs are described by ``evgrid/schemas/scl/evse.icd`` and
``meter.icd``. A reference is written relative to its logical device (``LN.DO.DA``)
together with its functional constraint; :meth:`Ref.at` turns it into the full object
reference for one logical device (the MMS domain, IED name + LD inst).

Layout of logical devices:

* standalone IEDs: station ``EVSE`` + ``STA`` (``EVSESTA``), meter ``METER`` + ``MTR``
  (``METERMTR``);
* gateway mode (``evgrid ied serve --stations N``): one IED hosts N pairs of logical
  devices ``STA0001`` + ``MTR0001`` ... where ``MTRnnnn`` is the meter measuring station
  ``STAnnnn``. Meter and station keep separate logical devices so that a client
  addresses a meter the same way behind a gateway as standalone (same LN names, no
  clash between the station's and the meter's ``MMXU1``); only the LD name changes.

Code tables (IEC 61850-7-2 AddCause, IEC 61851-1 connection states, Dbpos) live here
too, because the simulated hardware and the client adapter both speak them and neither
may import the binding.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

STATION_IED = "EVSE"
STATION_LD_INST = "STA"
METER_IED = "METER"
METER_LD_INST = "MTR"


class Fc(enum.StrEnum):
    """IEC 61850-7-2 functional constraints used by evgrid."""

    ST = "ST"
    MX = "MX"
    SP = "SP"
    CF = "CF"
    DC = "DC"
    CO = "CO"
    EX = "EX"


@dataclass(frozen=True, slots=True)
class Ref:
    """A data attribute (or data object) reference relative to its logical device."""

    path: str
    fc: Fc

    def at(self, ld: str) -> str:
        """Full object reference in logical device ``ld`` (e.g. ``EVSESTA/CSWI1.Pos``)."""
        return f"{ld}/{self.path}"


# --- station (evse.icd) ------------------------------------------------------------
# IEC 61851-1 / IEC 61850-90-8 DEAO: outlet state and plug.
CONN_ST = Ref("DEAO1.ConnSt.stVal", Fc.ST)
PLUG_ST = Ref("DEAO1.PlgStAC.stVal", Fc.ST)
# IEC 61850-90-8 DEEV: the connected EV (use-case step 1.1.1: EV Id and requirements).
EV_ID = Ref("DEEV1.EVId.stVal", Fc.ST)
EV_ENERGY_WH = Ref("DEEV1.EnAmnt.setMag.f", Fc.SP)
EV_DEPARTURE = Ref("DEEV1.DptTm.setTm", Fc.SP)
EV_SOC_PCT = Ref("DEEV1.Soc.mag.f", Fc.MX)
EV_MAX_A = Ref("DEEV1.AMax.setMag.f", Fc.SP)
# IEC 61850-90-8 DESE: station rating, grid limit, and the power drawn when closed.
STATION_RATED_W = Ref("DESE1.ChaPwrRtg.setMag.f", Fc.SP)
STATION_TARGET_W = Ref("DESE1.ChaPwrTgt.setMag.f", Fc.SP)
# DESE1.ChaPwrLim, the grid's charging power limit (W): 90-8 names it (an ASG there);
# evse.icd makes it a controllable APC (direct-with-normal-security) so that the IED can
# refuse a bad value, see the comment in the ICD. A client operates POWER_LIMIT with the
# new limit (ctlVal.f, W) and reads the limit in force from STATION_LIMIT_W (mxVal);
# the IED accepts STATION_LIMIT_MIN_W..STATION_LIMIT_MAX_W (0 W pauses charging).
POWER_LIMIT = Ref("DESE1.ChaPwrLim", Fc.CO)
STATION_LIMIT_W = Ref("DESE1.ChaPwrLim.mxVal.f", Fc.MX)
STATION_LIMIT_MIN_W = Ref("DESE1.ChaPwrLim.minVal.f", Fc.CF)
STATION_LIMIT_MAX_W = Ref("DESE1.ChaPwrLim.maxVal.f", Fc.CF)
STATION_V = Ref("DESE1.ChaV.mag.f", Fc.MX)
STATION_A = Ref("DESE1.ChaA.mag.f", Fc.MX)
# Contactor: CSWI1.Pos is the controllable DPC (control model declared in the ICD),
# XCBR1.Pos the switch itself (status only).
CONTACTOR = Ref("CSWI1.Pos", Fc.CO)
CONTACTOR_POS = Ref("CSWI1.Pos.stVal", Fc.ST)
CONTACTOR_CTL_MODEL = Ref("CSWI1.Pos.ctlModel", Fc.CF)
SWITCH_POS = Ref("XCBR1.Pos.stVal", Fc.ST)
SWITCH_OP_COUNT = Ref("XCBR1.OpCnt.stVal", Fc.ST)
# IEC 61850-7-4 MMXU: station measurements.
STATION_TOTW = Ref("MMXU1.TotW.mag.f", Fc.MX)
STATION_PHV_A = Ref("MMXU1.PhV.phsA.cVal.mag.f", Fc.MX)
STATION_A_A = Ref("MMXU1.A.phsA.cVal.mag.f", Fc.MX)

# Data sets and their report control blocks (LLN0 of the station LD).
DS_EV_STATE = "LLN0.EVState"
DS_SWITCH = "LLN0.Switch"
DS_MEASURE = "LLN0.Measure"
RCB_EV_STATE = "LLN0.RP.urcbEV"
RCB_SWITCH = "LLN0.RP.urcbSw"
RCB_MEASURE = "LLN0.RP.urcbMX"

# --- meter (meter.icd) -------------------------------------------------------------
METER_TOTWH = Ref("MMTR1.TotWh.actVal", Fc.ST)
METER_TOTWH_FROZEN = Ref("MMTR1.TotWh.frVal", Fc.ST)
METER_TOTWH_FROZEN_AT = Ref("MMTR1.TotWh.frTm", Fc.ST)
METER_SUPWH = Ref("MMTR1.SupWh.actVal", Fc.ST)
METER_TOTW = Ref("MMXU1.TotW.mag.f", Fc.MX)
METER_PHV_A = Ref("MMXU1.PhV.phsA.cVal.mag.f", Fc.MX)
METER_A_A = Ref("MMXU1.A.phsA.cVal.mag.f", Fc.MX)
DS_ENERGY = "LLN0.Energy"
RCB_ENERGY = "LLN0.RP.urcbEnergy"

# --- both ----------------------------------------------------------------------------
POWER_UPS = Ref("LPHD1.NumPwrUp.stVal", Fc.ST)

# Order of the members of each data set, as declared in the ICDs: report values arrive
# in this order.
EV_STATE_MEMBERS = (CONN_ST, PLUG_ST, EV_ID, EV_ENERGY_WH, EV_DEPARTURE, EV_MAX_A, STATION_TARGET_W)
SWITCH_MEMBERS = (CONTACTOR_POS, SWITCH_POS, CONN_ST)
MEASURE_MEMBERS = (STATION_TOTW, EV_SOC_PCT, STATION_LIMIT_W)
ENERGY_MEMBERS = (METER_TOTWH, METER_TOTWH_FROZEN, METER_TOTWH_FROZEN_AT, METER_SUPWH, METER_TOTW, POWER_UPS)


def station_ld(index: int | None = None, ied: str = STATION_IED) -> str:
    """LD name of a station: standalone (``index=None``) or gateway station ``index``."""
    return f"{ied}{STATION_LD_INST}" if index is None else f"{ied}{STATION_LD_INST}{index:04d}"


def meter_ld(index: int | None = None, ied: str = METER_IED) -> str:
    """LD name of a meter: standalone (``index=None``) or the meter of gateway station ``index``."""
    return f"{ied}{METER_LD_INST}" if index is None else f"{ied}{METER_LD_INST}{index:04d}"


def gateway_inst(base_inst: str, index: int) -> str:
    """LD inst of the ``index``-th copy of a logical device in gateway mode (``STA0001``)."""
    return f"{base_inst}{index:04d}"


# --- code tables -------------------------------------------------------------------------
class AddCause(enum.IntEnum):
    """IEC 61850-7-2 AddCause of a LastApplError (values as on the wire)."""

    UNKNOWN = 0
    NOT_SUPPORTED = 1
    BLOCKED_BY_SWITCHING_HIERARCHY = 2
    SELECT_FAILED = 3
    INVALID_POSITION = 4
    POSITION_REACHED = 5
    PARAMETER_CHANGE_IN_EXECUTION = 6
    STEP_LIMIT = 7
    BLOCKED_BY_MODE = 8
    BLOCKED_BY_PROCESS = 9
    BLOCKED_BY_INTERLOCKING = 10
    BLOCKED_BY_SYNCHROCHECK = 11
    COMMAND_ALREADY_IN_EXECUTION = 12
    BLOCKED_BY_HEALTH = 13
    ONE_OF_N_CONTROL = 14
    ABORTION_BY_CANCEL = 15
    TIME_LIMIT_OVER = 16
    ABORTION_BY_TRIP = 17
    OBJECT_NOT_SELECTED = 18
    OBJECT_ALREADY_SELECTED = 19
    NO_ACCESS_AUTHORITY = 20
    ENDED_WITH_OVERSHOOT = 21
    ABORTION_DUE_TO_DEVIATION = 22
    ABORTION_BY_COMMUNICATION_LOSS = 23
    ABORTION_BY_COMMAND = 24
    NONE = 25
    INCONSISTENT_PARAMETERS = 26
    LOCKED_BY_OTHER_CLIENT = 27

    @property
    def label(self) -> str:
        """The IEC 61850-7-2 spelling, e.g. ``Blocked-by-process``."""
        if self is AddCause.ONE_OF_N_CONTROL:
            return "1-of-n-control"
        return self.name.replace("_", "-").capitalize()

    @classmethod
    def from_code(cls, code: int) -> AddCause:
        """The AddCause for a wire value; unknown values map to ``UNKNOWN``."""
        try:
            return cls(code)
        except ValueError:
            return cls.UNKNOWN


class ConnState(enum.IntEnum):
    """IEC 61851-1 connection state as DEAO.ConnSt carries it (EVACConnectionStateKind)."""

    A = 1  # no vehicle connected
    B = 2  # vehicle connected, not ready for energy
    C = 3  # vehicle connected, ready for energy (charging)
    D = 4  # as C, ventilation required
    E = 5  # charge spot fault
    F = 6  # charge spot not available


class PlugState(enum.IntEnum):
    """DEAO.PlgStAC (EVACPlugStateKind)."""

    DISCONNECTED = 1
    CONNECTED_UNLOCKED = 2
    CONNECTED_LOCKED = 3
    CONNECTED = 4


class Dbpos(enum.IntEnum):
    """Double point position of a DPC/DPS (IEC 61850-7-3)."""

    INTERMEDIATE = 0
    OFF = 1
    ON = 2
    BAD = 3


class CtlModel(enum.IntEnum):
    """ctlModel of a controllable data object (IEC 61850-7-3 CtlModelKind)."""

    STATUS_ONLY = 0
    DIRECT_NORMAL = 1
    SBO_NORMAL = 2
    DIRECT_ENHANCED = 3
    SBO_ENHANCED = 4


def charging_complete(previous: ConnState | None, current: ConnState) -> bool:
    """True when the EV stopped requesting energy: ConnSt C (or D) -> B (step 2.3.2).

    IEC 61851-1: an EV that is full leaves state C for state B while it stays plugged
    in; the station opens its contactor at the same time.
    """
    return previous in (ConnState.C, ConnState.D) and current is ConnState.B
