import pytest

from evnetd.metering.aggregate import SecondAggregator, average
from evnetd.metering.measurement import CycleMeasurement


def cycle(t_end, vrms=230.0, irms=10.0, power=2300.0, duration=0.02, f=50.0):
    return CycleMeasurement(
        t_end=t_end,
        duration=duration,
        vrms=vrms,
        irms=irms,
        power_w=power,
        apparent_va=vrms * irms,
        power_factor=power / (vrms * irms) if irms else 1.0,
        frequency_hz=f,
        npe_vrms=1.0,
        site_irms=5.0,
        load_vrms=vrms,
    )


def test_rms_is_averaged_quadratically_and_power_arithmetically():
    m = average([cycle(0.02, vrms=200.0, irms=0.0, power=0.0), cycle(0.04, irms=20.0)])
    assert m.vrms == pytest.approx(((200.0**2 + 230.0**2) / 2) ** 0.5)
    assert m.irms == pytest.approx((20.0**2 / 2) ** 0.5)
    assert m.power_w == pytest.approx(1150.0)
    assert m.apparent_va == pytest.approx(2300.0)
    assert m.power_factor == pytest.approx(0.5)
    assert m.duration == pytest.approx(0.04)
    assert m.t_end == 0.04


def test_frequency_counts_cycles_over_their_time():
    m = average([cycle(0.02, duration=0.02, f=50.0), cycle(0.04, duration=0.025, f=40.0)])
    assert m.frequency_hz == pytest.approx(2 / 0.045)
    no_mains = average([cycle(0.02, f=None)])  # type: ignore[arg-type]
    assert no_mains.frequency_hz is None


def test_average_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        average([])


@pytest.mark.parametrize(("f", "per_second"), [(50.0, 50), (49.0, 49), (51.0, 51)])
def test_one_publication_per_second(f, per_second):
    aggregator = SecondAggregator()
    published = []
    t = 0.0
    for _ in range(per_second * 3):
        t += 1.0 / f
        result = aggregator.push(cycle(t, duration=1.0 / f, f=f))
        if result is not None:
            published.append(result)
    assert len(published) == 3
    assert all(p.duration == pytest.approx(1.0, abs=0.011) for p in published)
    assert all(p.frequency_hz == pytest.approx(f) for p in published)
