"""Current-limit arbitration (pure): which limit is in force, and whose it is."""
