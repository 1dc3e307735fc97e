"""The ``sim`` backend: every part reads and drives the plant simulator over D-Bus."""
