"""Alembic migrations of the incident store; run by alerts.store.migrate when the store is opened."""
