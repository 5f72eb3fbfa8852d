"""Sensors: stage housekeeping (cleanup after loads, orphan reports) and the job that does the deleting."""
