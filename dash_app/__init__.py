"""Kafka live metrics dashboard: Dash page + WebSocket relay fed by a Kafka consumer."""
