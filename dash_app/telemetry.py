"""``<prefix>metrics``: the relay's own health in Prometheus text format.

Counters the relay already keeps (consumer, store, hub) are read at scrape time by a custom collector,
so there is one source of truth and no double bookkeeping on the hot path. The end-to-end latency
(arrival at the relay − sample time) is a real histogram, observed per sample.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .consumer import MetricsConsumer
    from .hub import Hub
    from .store import SeriesStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NS = "metrics_relay"

# Seconds; sample time is the producer's clock, so skew shows up here too (negative → 0 bucket).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            f"{NS}_sample_latency_seconds",
            "Arrival at the relay minus the sample's own time (producer clock).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def attach(self, consumer: MetricsConsumer, store: SeriesStore, hub: Hub) -> None:
        self.registry.register(_RelayCollector(consumer, store, hub))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _RelayCollector(Collector):
    def __init__(self, consumer: MetricsConsumer, store: SeriesStore, hub: Hub) -> None:
        self.consumer = consumer
        self.store = store
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        c, s, h = self.consumer, self.store, self.hub
        yield CounterMetricFamily(f"{NS}_messages_consumed", "Kafka messages read.", value=c.consumed)
        bad = CounterMetricFamily(f"{NS}_bad_messages", "Messages skipped as unusable.", labels=["reason"])
        for reason, n in sorted(c.bad_by_reason.items()):
            bad.add_metric([reason], n)
        yield bad
        yield CounterMetricFamily(f"{NS}_skipped_metrics", "Metric values that were not finite numbers.",
                                  value=c.skipped_metrics)
        up = GaugeMetricFamily(f"{NS}_kafka_connected", "1 when the consumer reaches the cluster.",
                               value=1.0 if c.state == "connected" else 0.0)
        yield up
        lag = GaugeMetricFamily(f"{NS}_consumer_lag", "Messages behind the high watermark.",
                                labels=["topic", "partition"])
        for (topic, partition), n in sorted(c.lag.items()):
            lag.add_metric([topic, str(partition)], n)
        yield lag
        fmt = CounterMetricFamily(f"{NS}_records_by_format", "Usable records per detected format.",
                                  labels=["format"])
        for name, n in sorted(c.decoder.formats.items()):
            fmt.add_metric([name], n)
        yield fmt
        dropped = CounterMetricFamily(f"{NS}_dropped_points", "Parts of usable records not shown, by reason.",
                                      labels=["reason"])
        for reason, n in sorted(c.decoder.dropped.items()):
            dropped.add_metric([reason], n)
        yield dropped
        yield GaugeMetricFamily(f"{NS}_backfill_progress", "Share of the history replay done (0..1).",
                                value=c.backfill_progress)
        yield GaugeMetricFamily(f"{NS}_store_series", "Series held.", value=s.series_count)
        yield GaugeMetricFamily(f"{NS}_store_points", "Points held (raw tier).", value=s.point_count)
        yield CounterMetricFamily(f"{NS}_store_duplicate_points", "Points not newer than their series' newest.",
                                  value=s.duplicate_points)
        yield CounterMetricFamily(f"{NS}_store_dropped_series_points", "Points refused by the series cap.",
                                  value=s.dropped_series_points)
        for name, help_text, value in h.counters():
            kind = CounterMetricFamily if name.endswith("_total") else GaugeMetricFamily
            yield kind(f"{NS}_{name.removesuffix('_total')}", help_text, value=value)
