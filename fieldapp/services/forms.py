"""Report form definitions shipped to phones: the JSON files in fieldapp/forms/."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"


@cache
def list_forms() -> list[dict[str, Any]]:
    """Every form definition, read once per process (they change only with a release)."""
    return [json.loads(path.read_text("utf-8")) for path in sorted(FORMS_DIR.glob("*.json"))]
