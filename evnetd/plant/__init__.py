"""The plant simulator: the world around the board (EV, cable, lock, contactor, grid, house)."""
