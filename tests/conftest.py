"""Shared fixtures: one real Kafka broker per test session, for the tests that ask for it.

- `kafka_broker` (session): a KafkaBroker on free loopback ports in a tmp dir, started on first use
  and stopped at session end. With KAFKA_BOOTSTRAP_SERVERS set it starts nothing and stands for that
  cluster instead. Either way it has `.bootstrap_servers` and `.create_topic(name, partitions=3)`.
- `kafka_topic` (function): a fresh topic `t-<8 hex>` with 3 partitions on that broker; returns its
  name. Topics are not deleted afterwards (a shared external cluster keeps them).

Only integration and browser tests request these; unit tests never start a JVM.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from broker.launcher import ExternalKafka, KafkaBroker, external_bootstrap, fetch_libs


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker | ExternalKafka]:
    external = external_bootstrap()
    if external:
        yield ExternalKafka(external)
        return
    fetch_libs()
    broker = KafkaBroker(data_dir=tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def kafka_topic(kafka_broker: KafkaBroker | ExternalKafka) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(name, partitions=3)
    return name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main thread
    for the whole session (the browser fixture is session-scoped), which breaks asyncio.run() in any
    test that comes after it."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
