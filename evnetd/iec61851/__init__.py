"""IEC 61851-1 Mode 3 charge control as pure cores: pilot detection, duty ↔ current,
proximity decoding, lock and contactor supervision, and the connector state machine."""
