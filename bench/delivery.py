"""Delivery throughput and the publishing request with the relay up and down, beside baselines from the same run.

1. One update to N subscribers (10,000 by default) through a real SMTP server (aiosmtpd) on 127.0.0.1: fan-out
   plus the worker's drain (`flask worker --burst` does the same), seconds and mails/s; beside it, one bare smtplib
   loop sending N messages of the same size over one connection to the same relay. Target: 10,000 within 60 s.
2. The publishing request's own time (the service the console calls) with the relay up, then down (a closed port):
   it never talks to the relay, so the two should match.

Usage: python bench/delivery.py [--subscribers 10000] [--threads 1] [--publishes 15]
The machine is shared: figures are provisional; compare within a run.
"""

from __future__ import annotations

import argparse
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from delivery_common import RelayProcess, free_port, make_site, publish  # noqa: E402


def baseline(port: int, count: int, size: int) -> float:
    """Seconds for a bare smtplib loop: `count` messages of about `size` bytes over one connection."""
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "noreply@yunxi.example", "青石镇山洪灾害通报"
    msg.set_content("通" * max(size // 3, 1), charset="utf-8")
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for n in range(count):
            del msg["To"]
            msg["To"] = f"base{n:05d}@news.example"
            smtp.send_message(msg)
    return time.perf_counter() - started


def drain_in_threads(app, threads: int) -> dict[str, int]:
    """The worker's mail drain in `threads` threads at once (as `flask worker` with that many threads)."""
    from portal import jobs

    totals: dict[str, int] = {}
    lock = threading.Lock()

    def one() -> None:
        counts = jobs.deliver.call_local()
        with lock:
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=1, help="worker threads draining at once")
    parser.add_argument("--publishes", type=int, default=15, help="publishing requests timed per relay state")
    args = parser.parse_args()
    from portal import jobs

    relay = RelayProcess()
    port = relay.port
    try:
        with tempfile.TemporaryDirectory(prefix="portal-delivery-") as tmp:
            work = Path(tmp)
            app, ids = make_site(work, args.subscribers, SMTP_HOST="127.0.0.1", SMTP_PORT=port)
            publish(app, ids, "青石镇累计转移群众1260人，暂无人员伤亡。" * 8)
            started = time.perf_counter()
            announced = jobs.announce.call_local()
            fanned = time.perf_counter() - started
            counts = drain_in_threads(app, args.threads)
            total = time.perf_counter() - started
            received, connections = relay.counts()
            sent, copies = counts.get("mails_sent", 0), sum(received.values())
            missing = sum(1 for n in range(args.subscribers) if received[f"reader{n:05d}@news.example"] == 0)
            dupes = sum(c - 1 for c in received.values() if c > 1)
            base = baseline(port, args.subscribers, 900)
            print(f"delivery: {args.subscribers} subscribers, {args.threads} worker thread(s), aiosmtpd on 127.0.0.1")
            print(f"  portal: fan-out {fanned:.2f} s ({announced.get('queued_mails', 0)} rows), "
                  f"fan-out + send {total:.2f} s = {sent / total:.0f} mails/s; sent {sent}, received {copies}, "
                  f"missing {missing}, duplicates {dupes}, SMTP connections {connections}")
            print(f"  bare smtplib loop (same relay, same run): {base:.2f} s = {args.subscribers / base:.0f} mails/s")
            print(f"  ratio portal / bare: {total / base:.2f}x; target 10,000 within 60 s: "
                  f"{'met' if total * 10000 / args.subscribers <= 60 else 'NOT met'}")

            # 2. The publishing request itself, relay up and relay down.
            times = {}
            for label, smtp_port in (("relay up", port), ("relay down", free_port())):
                app.config["SMTP_PORT"] = smtp_port
                times[label] = [publish(app, ids, f"{label} 通报 {n}") for n in range(args.publishes)]
            for label, values in times.items():
                ms = sorted(v * 1000 for v in values)
                print(f"  publish ({label}): p50 {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms "
                      f"over {len(ms)} updates to {args.subscribers} subscribers")
            return 0 if missing == 0 and dupes == 0 else 1
    finally:
        relay.stop()


if __name__ == "__main__":
    sys.exit(main())
