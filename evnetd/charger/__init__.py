"""The charge-control service (evnet-charger)."""
