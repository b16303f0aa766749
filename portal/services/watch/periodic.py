"""The watch's periodic work, for the worker to schedule: (name, function, interval in seconds).

Each function takes a Session, the current time and the settings, and commits its own work; the worker registers
them in a few lines, e.g. ``for name, fn, every in PERIODIC: schedule(every, fn, session, utcnow(), settings)``.
"""

from __future__ import annotations

from portal.services.watch.alerts import send_digests, send_due_alerts
from portal.services.watch.capture import run_due_captures
from portal.services.watch.cycle import run_due_fetches
from portal.services.watch.handling import notify_overdue
from portal.services.watch.recheck import recheck_due

PERIODIC = (
    ("watch.fetch", run_due_fetches, 60),  # each source is due on its own interval; this only looks
    ("watch.captures", run_due_captures, 30),  # pages pasted by hand on the watch desk
    ("watch.alerts", send_due_alerts, 30),
    ("watch.digests", send_digests, 300),  # sends only once a patrol time has come
    ("watch.recheck", recheck_due, 900),  # handled posts and answers: still online? (each every 6 hours)
    ("watch.overdue", notify_overdue, 300),  # assigned items past due: the department is told once
)
