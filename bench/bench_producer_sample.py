"""Producer: cost of one full sample, in µs per metric family (issue #3).

In-process, this machine's real /proc: the samplers as the agent builds them (every family, per-core and
per-device on, default exclusions), primed, then called round-robin — one call of each family per
round, as the agent's tick does — `--samples` times, 20 ms apart so the kernel's CPU tick counters
move between rounds (else the cpu family would skip its arithmetic). The samplers' clock advances 1 s
per round, as at 1 Hz (so `system` lists /proc every time). Each call is timed on its own
(perf_counter_ns); the table shows median and 90th percentile. Then the encode step (v1 JSON) and a
whole tick of the service (all families + the agent's own metrics + encode + hand-over to a sink that
discards).

Wall-clock µs on a shared 2-core machine: a busy neighbour shows up in p90 more than in the median.
Rounds 20 ms apart keep caches warmer than one per second does, so the agent's real per-tick cost is
a bit higher (bench_producer.py measures that from outside: CPU ms per sample).

    python -m bench.bench_producer_sample [--quick] [--samples 2000]
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import header, parser, percentiles, say, table
from producer import message, samplers
from producer.config import Config
from producer.service import Service
from producer.sink import DeliveryStats


class NullSink:
    """Accepts and forgets: the tick without Kafka."""

    fatal = None
    pending = 0

    def __init__(self) -> None:
        self.stats = DeliveryStats()
        self.bytes = 0

    def start(self) -> None:
        pass

    def send(self, key: bytes, value: bytes) -> bool:
        self.stats.sent += 1
        self.bytes = len(value)
        return True

    def poll(self, timeout: float = 0.0) -> None:
        pass

    def close(self, timeout: float) -> int:
        return 0


def _time(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / 1000.0


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, help="rounds [1000; quick 200]")
    args = p.parse_args(argv)
    rounds = args.samples or (200 if args.quick else 1000)
    header("Producer: µs per metric family per sample", args)

    cfg = Config()
    fake_now = [0.0]
    options = dataclasses.replace(cfg.sampler_options(), clock=lambda: fake_now[0])
    created = samplers.create(cfg.metrics, options)
    sink = NullSink()
    # the whole tick gets samplers of its own, so both see one reading per round
    service = Service(samplers.create(cfg.metrics, options), sink, host_id="bench-host", interval=1.0,
                      flush_timeout=0.0)  # fmt: skip
    agent = samplers.AgentSampler(service.status)
    families: list[tuple[str, Callable[[], Any]]] = [(s.family, s.sample) for s in created]
    families.append(("agent (own health)", agent.sample))
    time.sleep(0.05)
    fake_now[0] += 1.0
    full: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name, fn in families:
        values = fn()
        counts[name] = len(values)
        full.update(values)
    sample = message.Sample(host="bench-host", ts_ms=int(time.time() * 1000), seq=0, metrics=full)
    steps: list[tuple[str, Callable[[], Any]]] = [
        *families,
        ("encode (v1 JSON)", lambda: message.encode(sample)),
        ("whole tick (all of the above + hand-over)", service.tick),
    ]

    say(f"{rounds} rounds over {len(steps)} steps")
    times: dict[str, list[float]] = {name: [] for name, _ in steps}
    for _ in range(20):  # warm-up
        for _, fn in steps:
            fn()
    for _ in range(rounds):
        time.sleep(0.02)
        fake_now[0] += 1.0
        for name, fn in steps:
            times[name].append(_time(fn))

    rows = []
    for name, _ in steps:
        med, p90 = percentiles(times[name], 50, 90)
        rows.append([name, counts.get(name) or "", f"{med:.0f}", f"{p90:.0f}", f"{statistics.fmean(times[name]):.0f}"])
    print(f"{rounds} rounds on this machine's /proc; one message: {len(full)} metrics, {sink.bytes:,} bytes.")
    print()
    print(table(["step", "metrics", "median µs", "p90 µs", "mean µs"], rows))
    print()
    total = sum(percentiles(times[name], 50)[0] for name, _ in families)
    print(f"Sum of the family medians: {total:.0f} µs per sample, i.e. {total / 1e4:.3f} % of a core at 1 Hz "
          f"and {total / 1e3:.2f} % at 10 Hz for the reading alone.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
