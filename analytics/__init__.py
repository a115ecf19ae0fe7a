"""Read-side SQL and statistics: every query the API, the dashboard, alerts and reports run."""
