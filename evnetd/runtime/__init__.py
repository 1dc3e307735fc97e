"""Daemon life cycle shared by every service: config, sd_notify, logging, signals."""
