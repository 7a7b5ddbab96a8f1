"""Locust users for the reference server (WebSocket echo, publisher, subscriber, polling)."""
