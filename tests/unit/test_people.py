"""The people directory under the engine's parallel workers: one read per answer, and answers
about different people asked for side by side."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from bridge.people import People


class Staff:
    def __init__(self):
        self.list_reads = 0

    def staff_emails(self):
        self.list_reads += 1
        return {"S-1": "anna@hv.example", "S-2": "ben@hv.example"}


class SlowTool:
    """``find_person`` for anna waits until released; ben answers at once."""

    def __init__(self):
        self.release_anna = threading.Event()
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def find_person(self, staff_id, email):
        with self._lock:
            self.asked.append(staff_id)
        if staff_id == "S-1":
            assert self.release_anna.wait(10)
        return "acc-" + email.split("@")[0]


def test_a_slow_answer_about_one_person_does_not_hold_up_another():
    staff, tool = Staff(), SlowTool()
    people = People(staff, tool)
    with ThreadPoolExecutor(4) as pool:
        anna = [pool.submit(people.tool_person, "S-1") for _ in range(2)]
        ben = pool.submit(people.tool_person, "S-2")
        assert ben.result(timeout=5) == "acc-ben"  # while anna's lookup is still under way
        assert not any(f.done() for f in anna)
        tool.release_anna.set()
        assert [f.result(timeout=5) for f in anna] == ["acc-anna", "acc-anna"]
    assert sorted(tool.asked) == ["S-1", "S-2"]  # one lookup per person, not per thread
    assert staff.list_reads == 1
