"""Hardware abstraction: interfaces, and the ``linux`` and ``sim`` backends."""
