"""Hostile input: what the property suite tries per endpoint, and what checking an opened report costs.

1. Runs tests/test_hostile_input.py (SQLite) and counts, from the app's own request log, the requests its
   generated cases made per endpoint (route pattern and method) and how each was answered: a 5xx is a defect.
2. Opens 10,000 sealed reports and validates each against its form right after opening it (what every page,
   statistic and export does), timing the two steps side by side in one loop. **Target: opening and
   validating take less than 1.1 times what opening alone takes.**

    python bench/hostile_input.py [--reports 10000] [--rounds 7] [--skip-suite]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from fieldapp import crypto  # noqa: E402
from fieldapp.services import forms  # noqa: E402


class RequestCounter(logging.Handler):
    """Counts the app's request log lines ("METHOD rule status") by endpoint and answer class."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[tuple[str, str]] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        method, rule, status = record.getMessage().rsplit(" ", 2)
        self.counts[(f"{method} {rule}", f"{status[0]}xx")] += 1


def count_suite_cases() -> int:
    import pytest

    counter = RequestCounter()
    log = logging.getLogger("fieldapp.requests")
    log.addHandler(counter)
    log.setLevel(logging.INFO)
    code = pytest.main(["-q", "-p", "no:randomly", "-p", "no:cacheprovider", str(ROOT / "tests/test_hostile_input.py")])
    log.removeHandler(counter)
    endpoints = sorted({endpoint for endpoint, _ in counter.counts})
    print(f"\n{'endpoint':58} {'requests':>8} {'2xx':>6} {'3xx':>6} {'4xx':>6} {'5xx':>4}")
    for endpoint in endpoints:
        by = {kind: counter.counts[(endpoint, kind)] for kind in ("2xx", "3xx", "4xx", "5xx")}
        print(f"{endpoint[:58]:58} {sum(by.values()):8} {by['2xx']:6} {by['3xx']:6} {by['4xx']:6} {by['5xx']:4}")
    total = sum(counter.counts.values())
    fives = sum(n for (_, kind), n in counter.counts.items() if kind == "5xx")
    print(f"{'all':58} {total:8}   5xx: {fives}   suite exit code: {int(code)}")
    return int(code)


def realistic_document(rng: random.Random) -> dict:
    definition = forms.find_form("trafficking-report")
    labels = forms.answer_labels("trafficking-report")
    answers: dict = {"encounter_date": "2026-11-29", "department": "17", "province": "1701", "district": "170101"}
    for question in forms.questions(definition):
        kind, codes = question["type"], sorted(labels[question["id"]])
        if kind == "single":
            answers[question["id"]] = rng.choice(codes)
        elif kind == "multiple":
            answers[question["id"]] = rng.sample(codes, k=min(len(codes), rng.randint(1, 3)))
    answers |= {"people_count": rng.randint(1, 40), "urgent": rng.random() < 0.1, "notes": "Relato " * 40}
    return {
        "form": "trafficking-report",
        "form_version": 2,
        "locale": "qu",
        "created_at": "2026-11-29T10:00:00Z",
        "answers": answers,
        "attachments": [],
    }


def time_opening(reports: int, rounds: int) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pub = crypto.public_raw(private)
    kid = crypto.kid_for(pub)
    rng = random.Random(7)
    envelopes = [crypto.seal_document(realistic_document(rng), pub, str(uuid.uuid4())) for _ in range(reports)]
    keys = {kid: private}
    texts = [json.dumps(e, separators=(",", ":")) for e in envelopes]
    assert all(forms.document_problem(crypto.open_envelope(json.loads(t), keys)) is None for t in texts[:50])

    def one_round() -> tuple[float, float]:
        """Seconds spent opening and seconds spent validating, report by report in one loop: each report is
        validated right after it is opened, as pages and exports do, with the caches as they are then."""
        gc.collect()
        opening = validating = 0.0
        clock = time.perf_counter
        for text in texts:
            start = clock()
            document = crypto.open_envelope(json.loads(text), keys)
            opened = clock()
            forms.document_problem(document)
            opening += opened - start
            validating += clock() - opened
        return opening, validating

    ratios, opens, checks = [], [], []
    for _ in range(rounds):
        opening, validating = one_round()
        ratios.append((opening + validating) / opening)
        opens.append(opening)
        checks.append(validating)
    a, v = statistics.median(opens), statistics.median(checks)
    print(f"\nopening {reports} reports, each validated right after it is opened; median of {rounds} rounds:")
    print(f"  opening            {a:6.2f} s  ({a / reports * 1e6:5.0f} µs a report)")
    print(f"  validating         {v:6.2f} s  ({v / reports * 1e6:5.0f} µs a report)")
    print(f"  (open + validate) / open = {statistics.median(ratios):.3f}   (target under 1.1)")
    print(f"  rounds' ratios: {' '.join(f'{r:.3f}' for r in ratios)}")
    size = statistics.mean(len(t) for t in texts)
    print(f"  envelope text {size:.0f} bytes on average")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--skip-suite", action="store_true")
    args = parser.parse_args()
    code = 0 if args.skip_suite else count_suite_cases()
    time_opening(args.reports, args.rounds)
    sys.exit(code)


if __name__ == "__main__":
    main()
