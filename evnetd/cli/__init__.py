"""Command-line entry points: `evnetd` (daemons, simulation) and `evnetctl` (operator)."""
