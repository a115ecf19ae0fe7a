"""Integrations with third-party clients (each behind its own optional extra)."""
