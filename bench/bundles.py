"""Carrying reports as a file (PROTOCOL.md §6 and §10): a bundle's import against the device API taking the same
reports, and `fieldapp decrypt` of that bundle against a bare loop opening the same envelopes.

    python bench/bundles.py [--reports 10000] [--rounds 3]

1. The same ~2 KB envelopes (bench/ingest.py's) go to two fresh SQLite databases: one through the real
   `fieldapp serve` (gunicorn, one client posting batches of 100, as a phone does), one as a bundle through
   `bundles.import_bundle` (what `fieldapp bundle import` and the dashboard run). Both warm up first on 800
   other reports. Printed: reports per second each, and import ÷ API. Target: at least 1.
2. The bundle decrypted as `fieldapp decrypt` does (check the whole file, open each report, write JSON
   Lines) against a bare loop of `crypto.open_envelope` over the same envelopes already in memory. Printed:
   decrypt ÷ bare loop, in time. Target: under 1.2. The command itself is timed once beside it, as a process
   (Python's start and imports included).

Rounds alternate the two sides; medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest import BATCH, WARMUP_BATCHES, run_api, sealed_envelopes  # noqa: E402

from fieldapp import create_app, crypto  # noqa: E402
from fieldapp.config import Config  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import OrgKey  # noqa: E402
from fieldapp.services import bundles, exports, offline, teams  # noqa: E402


def write_bundle(path: Path, envelopes: list[dict]) -> Path:
    manifest = {"format": "fieldapp-bundle", "v": 2, "created_at": "2026-12-02T00:00:00+00:00", "count": len(envelopes)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("manifest.json", json.dumps(manifest))
        lines = "".join(json.dumps({"team": "bench", "envelope": e}, separators=(",", ":")) + "\n" for e in envelopes)
        bundle.writestr("reports.jsonl", lines)
    return path


def run_import(workdir: Path, pub: bytes, warmup: Path, timed: Path) -> tuple[float, int]:
    instance = workdir / "instance"
    instance.mkdir()
    config = Config(secret_key="b" * 40, database_url=f"sqlite:///{workdir / 'import.db'}", instance_path=instance)
    app = create_app(config)
    with app.app_context():
        db.create_all()
        db.session.add(OrgKey(kid=crypto.kid_for(pub), public_key=pub, current=True))
        teams.create_team(db.session, "bench")
        db.session.commit()
        limits = {"max_ct_bytes": config.max_ct_bytes, "limits": config.attachment_limits}
        bundles.import_bundle(db.session, warmup, **limits)  # untimed, like the API's warm-up
        start = time.perf_counter()
        summary = bundles.import_bundle(db.session, timed, **limits)
        elapsed = time.perf_counter() - start
        db.session.remove()
        db.engine.dispose()
    return elapsed, summary.stored


def run_decrypt(path: Path, keys: dict, out: Path) -> float:
    start = time.perf_counter()
    with bundles.open_bundle(path) as bundle:
        _, reports = offline.read_bundle(bundle, keys)
        with out.open("w", encoding="utf-8") as target:
            for line in exports.jsonl_rows(report.row for report in reports):
                target.write(line)
    return time.perf_counter() - start


def run_bare(envelopes: list[dict], keys: dict) -> float:
    start = time.perf_counter()
    for envelope in envelopes:
        crypto.open_envelope(envelope, keys)
    return time.perf_counter() - start


def seconds(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    der = crypto.generate_private_key()
    pub = crypto.public_raw(der)
    keys = {crypto.kid_for(pub): crypto.load_private_key(der)}
    envelopes = sealed_envelopes(pub, args.reports + WARMUP_BATCHES * BATCH)
    warm, timed = envelopes[: WARMUP_BATCHES * BATCH], envelopes[WARMUP_BATCHES * BATCH :]
    api_times, import_times, decrypt_times, bare_times = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warm_bundle = write_bundle(folder / "warm.zip", warm)
        bundle = write_bundle(folder / "base.zip", timed)
        print(f"{args.reports:,} reports of ~2 KB; bundle {bundle.stat().st_size / 1e6:.1f} MB; {args.rounds} rounds")
        for n in range(args.rounds):
            work = folder / f"api-{n}"
            work.mkdir()
            elapsed, stored = run_api(f"sqlite:///{work / 'api.db'}", work, args.reports, 1, [], (pub, envelopes))
            assert stored == args.reports, stored
            api_times.append(elapsed)
            work = folder / f"import-{n}"
            work.mkdir()
            elapsed, stored = run_import(work, pub, warm_bundle, bundle)
            assert stored == args.reports, stored
            import_times.append(elapsed)
            decrypt_times.append(run_decrypt(bundle, keys, folder / f"out-{n}.jsonl"))
            bare_times.append(run_bare(timed, keys))
        api, imported = statistics.median(api_times), statistics.median(import_times)
        print(
            f"1. API (fieldapp serve, 1 client, batches of {BATCH}) {args.reports / api:,.0f} reports/s ({api:.2f} s); "
            f"bundle import {args.reports / imported:,.0f} reports/s ({imported:.2f} s); "
            f"import ÷ API {api / imported:.2f}   target >= 1"
        )
        print(f"   rounds: API {seconds(api_times)} s; import {seconds(import_times)} s")
        decrypted, bare = statistics.median(decrypt_times), statistics.median(bare_times)
        print(
            f"2. decrypt (check the bundle, open each report, write JSON Lines) {decrypted:.2f} s; bare open_envelope "
            f"loop {bare:.2f} s; decrypt ÷ bare {decrypted / bare:.2f}   target < 1.2"
        )
        print(f"   rounds: decrypt {seconds(decrypt_times)} s; bare {seconds(bare_times)} s")
        pem = folder / "org.pem"
        pem.write_bytes(
            crypto.load_private_key(der).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "fieldapp", "decrypt", str(bundle), "--key", str(pem), "--out", str(folder / "cli")],
            check=True,
            capture_output=True,
            env={**os.environ, "FIELDAPP_INSTANCE": str(folder / "no-instance")},
        )
        print(
            f"   `fieldapp decrypt` as a process: {time.perf_counter() - start:.2f} s (start-up and imports included)"
        )
        assert not (folder / "no-instance").exists()


if __name__ == "__main__":
    main()
