"""Analog front ends of the EVNET board: pin voltage ↔ physical quantity.

The MCP3204 sees the control pilot through a level shifter, the proximity pilot through a
pull-up divider and the socket NTC through another. Both directions live here: the
charger converts readings, the simulator produces pin voltages from the plant's state.
"""

from __future__ import annotations

import math

ADC_VREF_V = 3.3
# CP stage: ±12 V → 0.15–3.15 V, mid-scale at 1.65 V.
CP_MID_V = 1.65
CP_GAIN = 3.0 / 24.0
# PP: 1 kΩ pull-up to 3.3 V against the cable's PP–PE resistor.
PP_PULLUP_OHMS = 1000.0
PP_OPEN_OHMS = 1.0e6
# Socket NTC: 10 kΩ at 25 °C, B = 3950, 10 kΩ pull-up to 3.3 V.
NTC_R25_OHMS = 10_000.0
NTC_BETA = 3950.0
NTC_PULLUP_OHMS = 10_000.0
_T25_K = 298.15

MCP_CP_HIGH, MCP_CP_LOW, MCP_PP, MCP_NTC = 0, 1, 2, 3


def cp_volts(pin_v: float) -> float:
    """Pilot voltage (±12 V domain) from the ADC pin voltage."""
    return (pin_v - CP_MID_V) / CP_GAIN


def cp_pin(cp_v: float) -> float:
    return CP_MID_V + cp_v * CP_GAIN


def pp_ohms(pin_v: float) -> float:
    """PP–PE resistance; an open PP (no plug) reads as PP_OPEN_OHMS."""
    if pin_v >= ADC_VREF_V * 0.999:
        return PP_OPEN_OHMS
    return min(PP_OPEN_OHMS, PP_PULLUP_OHMS * pin_v / (ADC_VREF_V - pin_v))


def pp_pin(ohms: float) -> float:
    return ADC_VREF_V * ohms / (ohms + PP_PULLUP_OHMS)


def ntc_celsius(pin_v: float) -> float:
    """Socket temperature from the NTC divider (−273 °C reads as a broken sensor)."""
    if not 0.0 < pin_v < ADC_VREF_V:
        return -273.15
    ohms = NTC_PULLUP_OHMS * pin_v / (ADC_VREF_V - pin_v)
    return 1.0 / (1.0 / _T25_K + math.log(ohms / NTC_R25_OHMS) / NTC_BETA) - 273.15


def ntc_pin(celsius: float) -> float:
    ohms = NTC_R25_OHMS * math.exp(NTC_BETA * (1.0 / (celsius + 273.15) - 1.0 / _T25_K))
    return ADC_VREF_V * ohms / (ohms + NTC_PULLUP_OHMS)
