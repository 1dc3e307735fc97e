"""D-Bus names, errors, connections and typed client helpers (dbus-fast)."""
