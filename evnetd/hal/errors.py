"""Exceptions raised by hardware backends.

Modelled on python-can: one base class, and precise subclasses so a daemon can tell a
transient bus glitch (retry) from a missing device (configuration problem) from a part that
answers nonsense (hardware fault).
"""


class HalError(Exception):
    """Base class of every hardware-layer error."""


class BackendNotFoundError(HalError):
    """The configuration names a backend that does not exist."""


class DeviceNotFoundError(HalError):
    """The device node or bus is absent (no /dev/spidev0.0, no gpiochip, no plant)."""


class DeviceIOError(HalError):
    """The bus transfer itself failed (EIO, EREMOTEIO, short read)."""


class CrcError(DeviceIOError):
    """A frame arrived but its checksum does not match."""


class NackError(DeviceIOError):
    """The device answered with a negative acknowledgement or an error frame."""


class DeviceTimeoutError(HalError):
    """The device did not answer (or did not signal data ready) in time."""


class DeviceIdentityError(HalError):
    """The device answered, but is not the part we expected (ID register mismatch)."""
