"""The metering/protection service (evnet-meter)."""
