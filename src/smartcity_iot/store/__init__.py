"""Persistence: the embedded SQLite database (registry, alerts, tracks, outbox)."""
