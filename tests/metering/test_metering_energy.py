import itertools
import math

import pytest

from evnetd.metering.energy import EnergyRegister


def test_sub_wh_cycles_add_up_exactly():
    register = EnergyRegister()
    for _ in range(50 * 3600):  # one hour of 20 ms cycles at 1 kW
        register.add(1000.0, 0.02)
    assert register.total_wh == pytest.approx(1000.0, rel=1e-9)
    assert register.milli_wh in (999_999, 1_000_000)


def test_tiny_increments_are_not_lost_on_a_large_register():
    register = EnergyRegister(milli_wh=5_000_000_000)  # 5 MWh
    for _ in range(1000):
        register.add(0.1, 0.02)  # 0.1 W for 20 ms = 0.56 µWh each
    assert register.milli_wh == 5_000_000_000
    assert register.total_wh == pytest.approx(5_000_000 + 1000 * 0.1 * 0.02 / 3600, abs=1e-6)


@pytest.mark.parametrize(
    ("power", "duration"),
    [(-7000.0, 0.02), (float("nan"), 0.02), (float("inf"), 0.02), (100.0, -1.0), (0.0, 1.0)],
)
def test_glitches_never_move_the_register(power, duration):
    register = EnergyRegister(milli_wh=1234)
    register.add(3.6, 1.0)  # 1 mWh
    before = register.total_wh
    register.add(power, duration)
    assert register.total_wh == before
    assert register.milli_wh == 1235


def test_monotonic_through_export():
    register = EnergyRegister()
    seen = []
    for k in range(1000):
        register.add(7000.0 * math.sin(k / 10.0), 0.02)
        seen.append(register.total_wh)
    assert all(b >= a for a, b in itertools.pairwise(seen))
    assert seen[-1] > 0


def test_restart_from_persisted_value():
    register = EnergyRegister()
    register.add(7360.0, 3600.0)
    restored = EnergyRegister(milli_wh=register.milli_wh)
    assert restored.total_wh == pytest.approx(7360.0, abs=0.001)
    with pytest.raises(ValueError):
        EnergyRegister(milli_wh=-1)
