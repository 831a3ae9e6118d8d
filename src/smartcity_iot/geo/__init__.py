"""Zones, walking-hour schedules and the spatial index that classifies fixes."""
