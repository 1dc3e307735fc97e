"""Linux backend of the hardware layer: drivers for the parts on the charger board.

Each module drives one part through a bus object it is handed (spidev, smbus2, gpiod,
sysfs, python-can), so the drivers are tested against byte- and register-level fakes.
Nothing here imports spidev, smbus2 or gpiod at module level: importing a driver works on
a machine without them (the simulator, CI); the real modules are loaded only when a real
device node is opened.
"""
