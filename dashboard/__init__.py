"""Loupe's Streamlit dashboard: a client of the read API (it never opens the database)."""
