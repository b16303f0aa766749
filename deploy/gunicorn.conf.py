"""gunicorn settings for the portal (see README: Deployment)."""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("PORTAL_THREADS", "2"))
preload_app = True
timeout = 30
graceful_timeout = 20
keepalive = 5
# Access log without the client address: no raw IPs are stored (privacy page).
accesslog = os.environ.get("PORTAL_ACCESS_LOG", "-")
access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(L)ss "%(a)s"'
errorlog = "-"
