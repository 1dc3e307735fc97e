"""OCPP 1.6J uplink: protocol cores (pure) and the evnet-ocpp daemon."""
