"""A Ctrl-C or SIGTERM during a long solve stops the run within moments, not when HiGHS finishes.

HiGHS holds the main thread while it solves, and Python runs signal handlers only between
bytecodes: before emtrade solved in a helper thread with HiGHS's interrupt callbacks, a SIGTERM
during a MIP of minutes waited for the MIP to end.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import highspy
import pytest
from bigmip import write

import emtrade


def test_a_signal_during_a_solve_stops_it_within_moments(tmp_path, monkeypatch):
    scenario = write(tmp_path / "big", 3000)
    started = threading.Event()
    solving = {"now": False}
    original_start, original_wait = highspy.Highs.startSolve, highspy.Highs.wait

    def start(self):
        thread = original_start(self)
        solving["now"] = True
        started.set()
        return thread

    def wait(self, timeout=-1.0):
        done = original_wait(self, timeout)
        if done[0]:
            solving["now"] = False
        return done

    monkeypatch.setattr(highspy.Highs, "startSolve", start)
    monkeypatch.setattr(highspy.Highs, "wait", wait)
    sent = {}

    def interrupt():
        started.wait(120)
        time.sleep(0.5)
        sent["during_solve"] = solving["now"]
        sent["at"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        emtrade.simulate(scenario)
    stopped = time.perf_counter() - sent["at"]
    assert sent["during_solve"], "the signal should arrive while HiGHS is solving: make the scenario bigger"
    assert stopped < 5.0, f"the run went on for {stopped:.1f} s after the signal"
    assert not solving["now"]  # the solver thread has ended: nothing runs on behind the user's back
