"""Visits, technicians, holidays and calendar feeds (built on agreements)."""
