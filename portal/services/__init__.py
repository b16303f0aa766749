"""Use cases: plain functions taking a Session and plain values; they raise portal.errors."""
