"""gunicorn settings for the portal (see README: Deployment)."""

import multiprocessing
import os

# Workers from the core count (2 x cores + 1), one request at a time each (gunicorn's sync worker). Measured with
# bench/load.py at 64 connections on 2 cores: a sync worker accepts a connection only when it is free, so load
# spreads over the workers and p95 stays near p50 (hello app: p95 33 ms); threaded workers keep their keep-alive
# connections even while busy, and p95 was 3-4x p50. nginx in front buffers slow clients, which sync workers need.
# PORTAL_THREADS > 1 switches to threaded workers (for a deployment without a buffering proxy).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("PORTAL_THREADS", "1"))
# Load the app (jieba/rjieba dictionaries, the search index, templates) once in the master; workers fork it.
preload_app = True
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then (with jitter, so they do not all restart together) to bound memory growth.
max_requests = int(os.environ.get("PORTAL_MAX_REQUESTS", "20000"))
max_requests_jitter = 2000
backlog = 2048
# Access log without the client address: no raw IPs are stored (privacy page).
accesslog = os.environ.get("PORTAL_ACCESS_LOG", "-")
access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(L)ss "%(a)s"'
errorlog = "-"


def post_fork(server, worker):  # noqa: ARG001
    """Each worker opens its own database connections: drop any the master opened while preloading."""
    import sys

    if "portal.extensions" not in sys.modules:  # another app under this config (bench/hello_app.py)
        return
    try:
        from portal.extensions import db

        flask_app = getattr(server.app, "callable", None)
        if flask_app is None or not hasattr(flask_app, "app_context"):
            return
        with flask_app.app_context():
            db.engine.dispose(close=False)
    except Exception:  # noqa: BLE001 - never stop a worker from starting over this
        pass
