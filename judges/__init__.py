"""Evaluators, the online judge worker and the built-in local model."""
