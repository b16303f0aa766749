"""kill -9 drill for the background worker: nobody missing, duplicates within the in-flight bound.

A real `flask worker` (Huey consumer, SQLite queue file) mails one update to N subscribers (1,000 by default)
through a counting aiosmtpd relay in another process. When the relay has received about a third of them, the
worker is killed with SIGKILL; a new worker is started and finishes the mailing. The bound: a worker commits the
outcomes of a batch together, so at most one batch per worker thread (PORTAL_DELIVERY_BATCH x
PORTAL_WORKER_THREADS) was sent but not yet recorded when it died; those rows are queued again when their lease
(PORTAL_DELIVERY_LEASE_SECONDS, short here) runs out. Exits non-zero when anyone is missing or the duplicates
exceed the bound.

Usage: python bench/delivery_kill.py [--subscribers 1000] [--batch 50] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from delivery_common import RelayProcess, make_site, publish, site_env  # noqa: E402


def start_worker(work: Path, env: dict[str, str], name: str) -> subprocess.Popen:
    log = open(work / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "worker"], cwd=ROOT,
                            env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kill-at", type=float, default=0.33, help="fraction received when the worker is killed")
    parser.add_argument("--timeout", type=float, default=240)
    args = parser.parse_args()
    relay = RelayProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="portal-kill-") as tmp:
            work = Path(tmp)
            lease = 3
            config = dict(SMTP_HOST="127.0.0.1", SMTP_PORT=relay.port, DELIVERY_BATCH=args.batch)
            app, ids = make_site(work, args.subscribers, **config)
            env = site_env(work, PORTAL_SMTP_HOST="127.0.0.1", PORTAL_SMTP_PORT=str(relay.port),
                           PORTAL_DELIVERY_BATCH=str(args.batch), PORTAL_WORKER_THREADS=str(args.threads),
                           PORTAL_DELIVERY_LEASE_SECONDS=str(lease))
            env.pop("PORTAL_TEST_DATABASE_URL", None)
            first = start_worker(work, env, "worker-1")
            publish(app, ids, "青石镇累计转移群众1260人，暂无人员伤亡。")  # queues the announcement for the worker
            target = int(args.subscribers * args.kill_at)
            deadline = time.monotonic() + args.timeout
            while (received := sum(relay.counts()[0].values())) < target:
                if first.poll() is not None:
                    print((work / "worker-1.log").read_text()[-3000:])
                    print("the first worker stopped by itself")
                    return 1
                if time.monotonic() > deadline:
                    print("timed out before the kill")
                    return 1
                time.sleep(0.005)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            at_kill = sum(relay.counts()[0].values())
            restarted = time.monotonic()
            second = start_worker(work, env, "worker-2")
            try:
                while True:
                    copies, _connections = relay.counts()
                    if all(copies[f"reader{n:05d}@news.example"] for n in range(args.subscribers)):
                        break
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                time.sleep(lease + 2)  # anything still to come (a second copy) would arrive by now
                copies, _connections = relay.counts()
                finished = time.monotonic() - restarted
            finally:
                second.send_signal(signal.SIGINT)
                try:
                    second.wait(30)
                except subprocess.TimeoutExpired:
                    second.kill()
            missing = sum(1 for n in range(args.subscribers) if copies[f"reader{n:05d}@news.example"] == 0)
            duplicates = sum(c - 1 for c in copies.values() if c > 1)
            bound = args.batch * args.threads
            print(f"kill -9 drill: {args.subscribers} recipients, batch {args.batch} x {args.threads} worker threads, "
                  f"lease {lease} s")
            print(f"  killed after {received} received ({at_kill} once it was dead); restarted worker finished in "
                  f"{finished:.1f} s (includes the {lease} s lease and a {lease + 2} s quiet wait)")
            print(f"  missing {missing}, duplicates {duplicates} (in-flight bound {bound}: batch x threads)")
            ok = missing == 0 and duplicates <= bound
            print("  OK" if ok else "  FAILED")
            return 0 if ok else 1
    finally:
        relay.stop()


if __name__ == "__main__":
    sys.exit(main())
