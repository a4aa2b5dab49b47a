"""Which due polls may start: a few per host at once, the rest in line in the order they fell due."""

from __future__ import annotations

from monitor.service import Admission


def test_polls_past_a_hosts_limit_wait_in_due_order_and_take_the_freed_slots() -> None:
    admission = Admission()

    started = [admission.admit(source_id, "a.example", 2) for source_id in ("s1", "s2", "s3", "s4")]

    assert started == [True, True, False, False]
    assert "s3" in admission and "s1" not in admission and admission.waiting == 2
    assert admission.release("a.example") == "s3"
    assert admission.admit("s5", "a.example", 2) is False  # in line behind s4
    assert admission.release("a.example") == "s4"
    assert admission.release("a.example") == "s5"
    assert admission.waiting == 0
    assert [admission.release("a.example") for _ in range(3)] == [None, None, None]
    assert admission.admit("s6", "a.example", 2) is True


def test_hosts_do_not_wait_for_each_other() -> None:
    admission = Admission()
    assert admission.admit("a1", "a.example", 1) is True
    assert admission.admit("a2", "a.example", 1) is False

    assert admission.admit("b1", "b.example", 1) is True
    assert admission.release("b.example") is None
    assert admission.release("a.example") == "a2"


def test_clear_forgets_the_waiting_polls() -> None:
    admission = Admission()
    for source_id in ("s1", "s2", "s3"):
        admission.admit(source_id, "a.example", 1)

    assert admission.clear() == 2
    assert "s2" not in admission and admission.waiting == 0
    assert admission.release("a.example") is None
