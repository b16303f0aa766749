"""Incident bulletins: incidents and their updates, subscriptions and their notifications."""
