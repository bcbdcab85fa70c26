"""Alerts: the incident engine, the store, evidence media and notifications."""
