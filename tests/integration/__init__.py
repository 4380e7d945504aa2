"""Tests against a real Kafka broker (the session fixture in tests/conftest.py)."""
