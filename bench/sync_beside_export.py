"""A phone's batch time while a supervisor streams a 10,000-report CSV export, over the same on an idle server.

Both sides run against the same real `fieldapp serve` (gunicorn, two worker processes, as shipped) in one
run: rounds alternate idle and busy. In a busy round a supervisor's CSV export of every report is streaming
(read at about 250 KB/s, as over a base's Wi-Fi) while the phone sends its batches; the stream is checked
to be still open when the round ends. Medians and the worst batch are printed.

    python bench/sync_beside_export.py [--reports 10000] [--rounds 5] [--batches 10] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import fresh_database  # noqa: E402
from tests.served import Person, Phone, Served  # noqa: E402

LOGIN, KEY = "entrada segura 2026", "llave del equipo 2026"
BATCH = 20  # what a phone sends after a day in the field


def _batch_times(phone: Phone, batches: int) -> list[float]:
    times = []
    for _ in range(batches):
        status, results, elapsed = phone.send(phone.seal(BATCH))
        assert status == 200 and set(results.values()) == {"stored"}, status
        times.append(elapsed)
    return times


def run(kind: str, workdir: Path, database_url: str | None, reports: int, rounds: int, batches: int) -> None:
    served = Served(workdir, database_url)
    served.command("db", "upgrade")
    served.start()
    try:
        person = Person(served)
        person.set_up(served.setup_link(), "ana", LOGIN, KEY)
        served.command("teams", "create", "Puno")
        base, phone = (
            Phone(served, served.command("devices", "code", "--team", "Puno").strip().splitlines()[-1]) for _ in "ab"
        )
        sealed = base.seal(reports)
        for i in range(0, reports, 100):
            status, _, _ = base.send(sealed[i : i + 100])
            assert status == 200
        person.log_in("ana", LOGIN)
        person.unlock(KEY)
        _batch_times(phone, 3)  # warm-up: every worker has compiled its statements

        idle: list[float] = []
        busy: list[float] = []
        for _ in range(rounds):
            idle.extend(_batch_times(phone, batches))
            export = person.stream("/dashboard/export?format=csv")
            next(export)
            done = threading.Event()

            def read_slowly(stream=export, finished=done) -> None:  # type: ignore[no-untyped-def]
                for _chunk in stream:
                    if finished.is_set():
                        break
                    time.sleep(16384 / 250_000)  # 16 KB chunks at about 250 KB/s

            reader = threading.Thread(target=read_slowly)
            reader.start()
            busy.extend(_batch_times(phone, batches))
            assert reader.is_alive(), "the export ended before the round did: use more --reports"
            done.set()
            reader.join()
    finally:
        served.stop(signal.SIGTERM)
    ratio = statistics.median(busy) / statistics.median(idle)
    print(
        f"{kind:10} batches of {BATCH}, {len(idle)} per side: idle median {statistics.median(idle) * 1000:6.1f} ms"
        f" (worst {max(idle) * 1000:6.1f}), beside the export median {statistics.median(busy) * 1000:6.1f} ms"
        f" (worst {max(busy) * 1000:6.1f})  ratio(busy/idle)={ratio:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--postgres-url", default=os.environ.get("FIELDAPP_TEST_DATABASE_URL"))
    args = parser.parse_args()
    print(f"{args.reports} reports exported as CSV while a phone syncs; gunicorn, 2 workers, as shipped")
    with tempfile.TemporaryDirectory(prefix="fieldapp-bench-") as tmp:
        run("sqlite", Path(tmp) / "sqlite", None, args.reports, args.rounds, args.batches)
        if args.postgres_url:
            url = fresh_database("postgresql", Path(tmp), args.postgres_url, "bench_sync_export")
            run("postgresql", Path(tmp) / "pg", url, args.reports, args.rounds, args.batches)


if __name__ == "__main__":
    main()
