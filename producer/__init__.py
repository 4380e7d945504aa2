"""Host agent: samples system metrics with psutil and publishes them to Kafka."""
