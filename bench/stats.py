"""Statistics over 10,000 reports, against the floor for a server that keeps nothing decrypted: a bare loop
that only reads the same envelopes and opens them with crypto.py. Target: ratio under 1.3.

    python bench/stats.py [--reports 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from fieldapp import create_app, crypto  # noqa: E402
from fieldapp.config import Config  # noqa: E402
from fieldapp.extensions import db  # noqa: E402
from fieldapp.models import OrgKey, Report  # noqa: E402
from fieldapp.services import inbox, reports, teams  # noqa: E402
from fieldapp.services import stats as stats_service  # noqa: E402


def answers(rng: random.Random) -> dict:
    return {
        "encounter_date": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
        "department": rng.choice(["17", "21", "16", "15"]),
        "place_kind": rng.choice(["mining_camp", "bar_nightclub", "river_port"]),
        "people_count": rng.randint(1, 6),
        "sex": rng.sample(["Feminine", "Masculine"], rng.randint(1, 2)),
        "age_band": rng.sample(["14_17", "18_24", "25_39"], rng.randint(1, 2)),
        "nationality": rng.sample(["PE", "VE", "CO", "BO"], rng.randint(1, 2)),
        "exploitation_type": rng.sample(["ForcedLabour", "SexualExploitation", "ChildLabour"], rng.randint(1, 2)),
        "sector": rng.choice(["B_MiningAndQuarrying", "A_Logging"]),
        "forced_labour_indicators": rng.sample(["deception", "debt_bondage", "isolation", "excessive_overtime"], 2),
        "recruitment_method": rng.sample(["FalseJobOffer", "ThroughOnlineSocialNetworks"], 1),
        "urgent": rng.random() < 0.2,
        "notes": "Oferta de trabajo falsa; deuda por el pasaje y la comida. " * 3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "instance").mkdir()
        app = create_app(
            Config(secret_key="b" * 40, database_url=f"sqlite:///{work / 'stats.db'}", instance_path=work / "instance")
        )
        with app.app_context():
            db.create_all()
            der = crypto.generate_private_key()
            pub = crypto.public_raw(der)
            db.session.add(OrgKey(kid=crypto.kid_for(pub), public_key=pub, current=True))
            team = teams.create_team(db.session, "bench")
            db.session.commit()
            kids = {crypto.kid_for(pub)}
            for start in range(0, args.reports, 100):
                batch = [
                    crypto.seal_document(
                        {"form": "trafficking-report", "form_version": 1, "locale": "es", "answers": answers(rng)}, pub
                    )
                    for _ in range(min(100, args.reports - start))
                ]
                reports.store_reports(db.session, team.id, reports.check_batch(batch, kids, 2**21))
                db.session.commit()
            private_keys = {crypto.kid_for(pub): crypto.load_private_key(der)}

            def full() -> stats_service.Picture:
                return stats_service.compute(inbox.iter_matching(db.session, inbox.Filters(), private_keys))

            def bare() -> int:
                opened = 0
                for text in db.session.scalars(select(Report.envelope)).yield_per(500):
                    crypto.open_envelope(json.loads(text), private_keys)
                    opened += 1
                return opened

            ratios, full_times, bare_times = [], [], []
            for _ in range(args.rounds):
                start = time.perf_counter()
                assert bare() == args.reports
                bare_s = time.perf_counter() - start
                db.session.rollback()
                start = time.perf_counter()
                picture = full()
                full_s = time.perf_counter() - start
                db.session.rollback()
                assert picture.reports == args.reports
                ratios.append(full_s / bare_s)
                full_times.append(full_s)
                bare_times.append(bare_s)
    print(
        f"statistics over {args.reports} reports: {statistics.median(full_times):.2f} s; "
        f"bare open loop: {statistics.median(bare_times):.2f} s; "
        f"ratio {statistics.median(ratios):.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f})   target < 1.3"
    )


if __name__ == "__main__":
    main()
