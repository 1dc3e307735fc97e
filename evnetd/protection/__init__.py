"""Protection core: the trip rules of DESIGN.md §4 and their timers (pure, no I/O)."""

from evnetd.protection.config import DEFAULT_PROTECTION_CONFIG, ProtectionConfig
from evnetd.protection.core import LATCHING, ClearResult, Decision, ProtectionCore
from evnetd.protection.faults import EventKind, Fault, ProtectionEvent
from evnetd.protection.rcd_selftest import SelfTestStatus
from evnetd.protection.thermal import derating_limit_a

__all__ = [
    "DEFAULT_PROTECTION_CONFIG",
    "LATCHING",
    "ClearResult",
    "Decision",
    "EventKind",
    "Fault",
    "ProtectionConfig",
    "ProtectionCore",
    "ProtectionEvent",
    "SelfTestStatus",
    "derating_limit_a",
]
