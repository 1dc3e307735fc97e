"""The plant's physics with a fake clock."""

from __future__ import annotations

import pytest

from evnetd.plant.model import (
    CONTACTOR_MOVE_S,
    EV_REACTION_S,
    LOCK_MOVE_S,
    PP_OPEN_OHMS,
    PlantError,
    PlantModel,
)


def close_contactor(m: PlantModel, now: float) -> float:
    m.set_output(now, "permit", True)
    m.set_output(now, "contactor", True)
    now += CONTACTOR_MOVE_S
    m.step(now)
    return now


def test_pilot_levels_follow_ev_state_and_pwm() -> None:
    m = PlantModel()
    assert (m.cp_high_v, m.cp_low_v, m.pp_ohms) == (12.0, 12.0, PP_OPEN_OHMS)
    m.plug(0.0, 20)
    assert (m.cp_high_v, m.pp_ohms) == (9.0, 680.0)
    m.set_pwm_duty(0.0, 0.533)
    assert (m.cp_high_v, m.cp_low_v) == (9.0, -12.0)
    m.set_ev_state(0.0, "C")
    assert m.cp_high_v == 6.0
    m.set_pwm_duty(0.0, 0.0)
    assert (m.cp_high_v, m.cp_low_v) == (-12.0, -12.0)


@pytest.mark.parametrize(
    ("fault", "high", "low"),
    [("diode", 9.0, -9.0), ("cp-short", 0.0, 0.0)],
)
def test_pilot_faults(fault: str, high: float, low: float) -> None:
    m = PlantModel()
    m.plug(0.0)
    m.set_pwm_duty(0.0, 0.5)
    m.set_fault(0.0, fault, True)
    assert (m.cp_high_v, m.cp_low_v) == (high, low)


def test_contactor_needs_permit_and_request_and_records_times() -> None:
    m = PlantModel()
    m.set_output(1.0, "contactor", True)
    m.step(1.0 + CONTACTOR_MOVE_S)
    assert not m.contactor_closed
    now = close_contactor(m, 2.0)
    assert m.contactor_closed and m.load_v == 230.0
    m.set_output(now + 1, "permit", False)
    m.step(now + 1 + CONTACTOR_MOVE_S)
    assert not m.contactor_closed
    names = [(e.name, e.value) for e in m.events]
    assert ("permit", "0") in names and ("contactor-closed", "0") in names
    permit_low = next(e.time for e in m.events if (e.name, e.value) == ("permit", "0"))
    assert permit_low == now + 1


def test_weld_keeps_contacts_closed_at_next_opening() -> None:
    m = PlantModel()
    now = close_contactor(m, 0.0)
    m.set_fault(now, "weld", True)
    m.set_output(now, "contactor", False)
    m.step(now + 1)
    assert m.contactor_closed and m.load_v == 230.0


def test_ev_ramps_to_min_of_offer_and_its_max() -> None:
    m = PlantModel(ev_max_a=16.0)
    m.plug(0.0)
    m.set_ev_state(0.0, "C")
    m.set_pwm_duty(0.0, 0.5333)  # 32 A offered
    now = close_contactor(m, 0.0)
    m.step(now + EV_REACTION_S)
    t = now + EV_REACTION_S
    for _ in range(200):
        t += 0.01
        m.step(t)
    assert m.ev_current_a == pytest.approx(16.0, abs=0.01)
    m.set_pwm_duty(t, 0.1)  # 6 A
    m.step(t + EV_REACTION_S / 2)
    assert m.ev_current_a == pytest.approx(16.0, abs=0.01)  # still reacting
    m.step(t + EV_REACTION_S + 0.01)
    assert m.ev_current_a == pytest.approx(6.0, abs=0.01)


def test_ev_draws_nothing_in_b_or_without_contactor() -> None:
    m = PlantModel()
    m.plug(0.0)
    m.set_pwm_duty(0.0, 0.5)
    now = close_contactor(m, 0.0)
    m.step(now + 2)
    assert m.ev_current_a == 0.0


def test_lock_moves_unless_jammed() -> None:
    m = PlantModel()
    m.set_output(0.0, "lock_a", True)
    m.step(LOCK_MOVE_S)
    assert m.locked
    m.set_output(1.0, "lock_a", False)
    m.set_output(1.0, "lock_b", True)
    m.set_fault(1.0, "lock-jam", True)
    m.step(1.0 + LOCK_MOVE_S)
    assert m.locked


def test_heating_with_current() -> None:
    m = PlantModel()
    m.plug(0.0)
    m.set_ev_state(0.0, "C")
    m.set_pwm_duty(0.0, 0.5333)
    now = close_contactor(m, 0.0)
    for second in range(600):
        m.step(now + second)
    assert m.ev_current_a == pytest.approx(32.0, abs=0.1)
    assert 50.0 < m.temperature_c < 56.0  # ambient 25 + 30 K at 32 A, nearly settled
    m.set_fault(600.0, "overtemp", True)
    assert m.board_temperature_c >= 79.0


def test_rcd_test_output_drives_fault_input() -> None:
    m = PlantModel()
    assert not m.rcd_fault
    m.set_output(0.0, "rcd_test", True)
    assert m.rcd_fault
    m.set_output(0.1, "rcd_test", False)
    m.set_fault(0.2, "rcd-dc", True)
    assert m.rcd_fault


def test_card_is_held_for_a_while() -> None:
    m = PlantModel()
    m.present_card(0.0, "04a1b2c3")
    assert m.card == "04A1B2C3"
    m.step(10.0)
    assert m.card == ""


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.plug(0.0, 25), "cable 25 A"),
        (lambda m: m.set_ev_state(0.0, "C"), "no plug"),
        (lambda m: m.set_ev_state(0.0, "X"), "EV state 'X'"),
        (lambda m: m.set_fault(0.0, "gremlins", True), "fault 'gremlins'"),
        (lambda m: m.set_grid(0.0, 500.0), "grid voltage 500"),
        (lambda m: m.present_card(0.0, "zz"), "hexadecimal"),
        (lambda m: m.set_output(0.0, "horn", True), "output 'horn'"),
    ],
)
def test_bad_commands_name_the_problem_and_change_nothing(call, message) -> None:  # type: ignore[no-untyped-def]
    m = PlantModel()
    before = repr(m)
    with pytest.raises(PlantError, match=message):
        call(m)
    assert repr(m) == before
