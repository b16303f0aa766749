"""Incident bulletins in the console: incidents, updates, corrections, withdrawals, the crisis banner."""
