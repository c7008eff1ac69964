"""The drill's probe stream driven by a script instead of a network, for the drill's unit
tests: each look at the samples sends one probe, through `failover_check.probe_once`
(looked up at call time, so a test's monkeypatch of it decides the answers)."""

from __future__ import annotations

import time
from collections.abc import Callable

from vrrp_pair import failover_check
from vrrp_pair.probe import Sample


class ScriptedProber:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.samples: list[Sample] = []
        self.started = self.stopped = False

    def start(self) -> ScriptedProber:
        self.started = True
        return self

    def stop(self) -> None:
        self.stopped = True

    def snapshot(self) -> list[Sample]:
        at = self.clock()
        answer = failover_check.probe_once("http://vip/", timeout=0.25)
        self.samples.append(Sample(at, 0.0, answer or "!timeout"))
        return list(self.samples)


def scripted(clock: Callable[[], float] = time.monotonic,
             made: list[ScriptedProber] | None = None
             ) -> Callable[[str, float, float], ScriptedProber]:
    """A `prober` argument for failover_check.drill; `made` collects what it made."""
    def make(url: str, interval: float, timeout: float) -> ScriptedProber:
        prober = ScriptedProber(clock)
        if made is not None:
            made.append(prober)
        return prober

    return make
