"""Shared pytest fixtures for the host tests; each area keeps its logic in its own module."""

# Real mosquitto brokers and subscribers (see brokers.py for the fixture signatures).
from brokers import mqtt_broker, mqtt_broker_factory, mqtt_subscriber  # noqa: F401
