"""`evnetd sim`: the whole charger on the simulated board, on a private D-Bus."""
