"""evgrid: IEC 61850 / CIM integration adapter for EV charging.

Implements the IntelliGrid use case "Customer Services - Consumer Portal - Electric
Vehicle Function": IEC 61968-100 messages with CIM payloads towards the enterprise,
IEC 61850 towards charging stations and meters.
"""

__version__ = "0.1.0"
