"""The PIN vault and the drafts store in a real Chromium: WebCrypto's PBKDF2 and AES-GCM opened by Python's
`cryptography` (byte for byte the same construction), wrong PINs refused, a draft bound to its id, drafts that
outlive the browser on the same profile, a save from a draft that stores one report however often it is tapped,
a wipe that keeps the sealed outbox, and an upgrade of the phone's database that keeps what it held."""

from __future__ import annotations

import json
import unicodedata

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from fieldapp import crypto

VAULT_IN_PAGE = """
async ([pin, iterations, draftId, content]) => {
  const v = await import("/static/js/vault.js");
  const c = await import("/static/js/crypto.js");
  const { record, dataKey } = await v.createVault(pin, iterations);
  const sealed = await v.sealDraft(dataKey, draftId, content);
  const b = (bytes) => c.b64uEncode(bytes);
  return {
    record: { ...record, salt: b(record.salt), iv: b(record.iv), wrapped: b(record.wrapped) },
    sealed: { iv: b(sealed.iv), ct: b(sealed.ct) },
  };
}
"""


def python_opens(pin: str, made: dict, draft_id: str) -> object:
    """The vault and the draft opened with Python alone, from the construction vault.js documents."""
    record, sealed = made["record"], made["sealed"]
    assert record["kdf"] == "PBKDF2-SHA-256" and record["v"] == 1
    wrapping = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=32, salt=crypto.b64u_decode(record["salt"]), iterations=record["iterations"]
    ).derive(unicodedata.normalize("NFKC", pin).encode())
    data_key = AESGCM(wrapping).decrypt(
        crypto.b64u_decode(record["iv"]), crypto.b64u_decode(record["wrapped"]), b"fieldapp/vault/1|data-key"
    )
    plain = AESGCM(data_key).decrypt(
        crypto.b64u_decode(sealed["iv"]), crypto.b64u_decode(sealed["ct"]), f"fieldapp/draft/1|{draft_id}".encode()
    )
    return json.loads(plain)


def test_python_opens_the_vault_and_a_draft_the_browser_sealed(page, live_server) -> None:
    page.goto(live_server.url + "/")
    content = {"answers": {"notes": "Ñawpaq willakuy — canary-draft ✓"}, "step": 3}
    made = page.evaluate(VAULT_IN_PAGE, ["482913", 100_000, "d-1", content])
    assert made["record"]["iterations"] == 100_000
    assert python_opens("482913", made, "d-1") == content
    assert "canary-draft" not in json.dumps(made)


PHONE_KEY_IN_PAGE = """
async ([pin, name, value]) => {
  const v = await import("/static/js/vault.js");
  const c = await import("/static/js/crypto.js");
  const made = await v.createVault(pin, 100000);
  const record = await v.addPhoneKey(made.dataKey, made.record);
  const sealed = await v.sealToPhone(record.phone.pub, name, value);
  const b = (bytes) => c.b64uEncode(bytes);
  // The browser opens it too, and under another name it does not open.
  const key = await v.openPhoneKey(made.dataKey, record);
  const reopened = await v.openFromPhone(key, record.phone.pub, name, sealed);
  let renamed = "opened";
  try { await v.openFromPhone(key, record.phone.pub, "team", sealed); } catch (e) { renamed = e.name; }
  // The duress PIN: one derivation tells the PIN, the duress PIN and a wrong one apart.
  const duress = await v.duressMarker("135790", record);
  const outcomes = [];
  for (const typed of [pin, "135790", "000000"]) {
    try { outcomes.push((await v.tryVault(typed, record, duress)).outcome); } catch (e) { outcomes.push(e.name); }
  }
  return {
    record: { ...record, salt: b(record.salt), iv: b(record.iv), wrapped: b(record.wrapped),
              phone: { pub: b(record.phone.pub), iv: b(record.phone.iv), wrapped: b(record.phone.wrapped) } },
    sealed: { epk: b(sealed.epk), iv: b(sealed.iv), ct: b(sealed.ct) },
    reopened, renamed, extractable: key.extractable, outcomes,
  };
}
"""


def test_python_opens_what_the_browser_sealed_to_the_phone_key(page, live_server) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    page.goto(live_server.url + "/")
    value = {"team": "Madre de Dios 1", "words": "Ñawpaq — canary-kept ✓"}
    made = page.evaluate(PHONE_KEY_IN_PAGE, ["482913", "bootstrap", value])
    assert made["reopened"] == value and made["renamed"] == "OperationError" and made["extractable"] is False
    assert made["outcomes"] == ["open", "duress", "WrongPin"]
    record, sealed = made["record"], made["sealed"]
    b = crypto.b64u_decode
    wrapping = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=32, salt=b(record["salt"]), iterations=record["iterations"]
    ).derive(b"482913")
    data_key = AESGCM(wrapping).decrypt(b(record["iv"]), b(record["wrapped"]), b"fieldapp/vault/1|data-key")
    pkcs8 = AESGCM(data_key).decrypt(
        b(record["phone"]["iv"]), b(record["phone"]["wrapped"]), b"fieldapp/vault/1|phone-key"
    )
    private = load_der_private_key(pkcs8, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    pub, epk = b(record["phone"]["pub"]), b(sealed["epk"])
    shared = private.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), epk))
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + pub, info=b"fieldapp/kept/1").derive(shared)
    plain = AESGCM(key).decrypt(b(sealed["iv"]), b(sealed["ct"]), b"fieldapp/kept/1|bootstrap")
    assert json.loads(plain) == value
    assert "canary-kept" not in json.dumps(sealed)


def test_a_wrong_pin_a_moved_draft_and_too_few_iterations_are_refused(page, live_server) -> None:
    page.goto(live_server.url + "/")
    outcome = page.evaluate(
        """async () => {
          const v = await import("/static/js/vault.js");
          const { record, dataKey } = await v.createVault("482913", 100000);
          const sealed = await v.sealDraft(dataKey, "d-1", { notes: "x" });
          const result = {};
          try { await v.openVault("482914", record); result.wrongPin = "opened"; }
          catch (e) { result.wrongPin = e.name; }
          const reopened = await v.openVault("482913", record);
          result.reopened = (await v.openDraft(reopened, "d-1", sealed)).notes;
          try { await v.openDraft(reopened, "d-2", sealed); result.moved = "opened"; }
          catch (e) { result.moved = e.name; }
          try { await v.createVault("482913", 1000); result.weak = "made"; }
          catch (e) { result.weak = e.message; }
          result.exportable = reopened.extractable;
          const [first, second] = [await v.sealDraft(dataKey, "d-1", 1), await v.sealDraft(dataKey, "d-1", 1)];
          result.twoIvs = first.iv.join() !== second.iv.join();
          result.delays = [0, 2, 3, 4, 10, 30].map(v.pinDelaySeconds);
          return result;
        }"""
    )
    assert outcome == {
        "wrongPin": "WrongPin",
        "reopened": "x",
        "moved": "OperationError",
        "weak": "too few PBKDF2 iterations",
        "exportable": False,
        "twoIvs": True,
        "delays": [0, 0, 5, 10, 300, 300],
    }


def test_a_pin_typed_in_another_unicode_form_opens_the_vault(page, live_server) -> None:
    page.goto(live_server.url + "/")
    composed, decomposed = "contraseña 7", unicodedata.normalize("NFD", "contraseña 7")
    assert composed != decomposed
    opened = page.evaluate(
        """async ([made, typed]) => {
          const v = await import("/static/js/vault.js");
          const { record } = await v.createVault(made, 100000);
          try { await v.openVault(typed, record); return true; } catch { return false; }
        }""",
        [composed, decomposed],
    )
    assert opened is True


def test_calibration_never_goes_under_the_floor(page, live_server) -> None:
    page.goto(live_server.url + "/")
    iterations = page.evaluate(
        "async () => (await import('/static/js/vault.js')).calibrateIterations(1)"  # a target no phone meets
    )
    assert iterations == 100_000


SAVE_FROM_DRAFT = """
async () => {
  const db = await import("/static/js/db.js");
  await db.putDraft({ id: "d-7", sealed: { iv: new Uint8Array(12), ct: new Uint8Array(16) }, rid: "r-7",
                      updatedAt: 1, expiresAt: 2 });
  const envelope = { v: 1, rid: "r-7", kid: "k", epk: "e", iv: "i", ct: "c" };
  // A double tap: two saves of the same draft at once.
  await Promise.all([db.addToOutboxFromDraft(envelope, "2026-12-02", "d-7"),
                     db.addToOutboxFromDraft(envelope, "2026-12-02", "d-7")]);
  return { outbox: (await db.outboxEntries()).map((e) => e.rid), drafts: (await db.draftEntries()).length };
}
"""


def test_saving_from_a_draft_stores_one_report_and_ends_the_draft(page, live_server) -> None:
    page.goto(live_server.url + "/")
    assert page.evaluate(SAVE_FROM_DRAFT) == {"outbox": ["r-7"], "drafts": 0}


def test_a_draft_outlives_the_browser_on_the_same_profile(playwright, live_server, tmp_path) -> None:
    from .conftest import CHROMIUM, CHROMIUM_ARGS

    for run in ("write", "read"):
        ctx = playwright.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        page = ctx.new_page()
        page.goto(live_server.url + "/")
        if run == "write":
            page.evaluate(
                """async (made) => {
                  const db = await import("/static/js/db.js");
                  const v = await import("/static/js/vault.js");
                  const { record, dataKey } = await v.createVault("482913", 100000);
                  await db.setSetting("lock", record);
                  await db.putDraft({ id: "d-1", sealed: await v.sealDraft(dataKey, "d-1", made), rid: "r-1",
                                      updatedAt: Date.now(), expiresAt: Date.now() + 72 * 3600e3 });
                }""",
                {"notes": "sigue aquí"},
            )
        else:
            resumed = page.evaluate(
                """async () => {
                  const db = await import("/static/js/db.js");
                  const v = await import("/static/js/vault.js");
                  const key = await v.openVault("482913", await db.getSetting("lock"));
                  const [draft] = await db.draftEntries();
                  return v.openDraft(key, draft.id, draft.sealed);
                }"""
            )
            assert resumed == {"notes": "sigue aquí"}
        ctx.close()


def test_a_wipe_keeps_the_sealed_outbox_and_the_device_token(page, live_server) -> None:
    page.goto(live_server.url + "/")
    left = page.evaluate(
        """async () => {
          const db = await import("/static/js/db.js");
          await db.addToOutbox({ v: 1, rid: "r-1", kid: "k", epk: "e", iv: "i", ct: "c" }, "2026-12-02");
          await db.setSetting("deviceToken", "t");
          await db.setSetting("team", "Madre de Dios 1");
          await db.setSetting("lock", { v: 1 });
          await db.putDraft({ id: "d-1", sealed: {}, rid: "r-2", updatedAt: 1, expiresAt: 2 });
          await db.wipeSensitive(["deviceToken"]);
          return { outbox: (await db.outboxEntries()).length, drafts: (await db.draftEntries()).length,
                   token: await db.getSetting("deviceToken"), team: await db.getSetting("team") ?? null,
                   lock: await db.getSetting("lock") ?? null };
        }"""
    )
    assert left == {"outbox": 1, "drafts": 0, "token": "t", "team": None, "lock": None}


OLD_DATABASE = """
async ({ version, entries }) => {
  const old = await new Promise((resolve, reject) => {
    const request = indexedDB.open("fieldapp", version);  // the database as an earlier version left it
    request.onupgradeneeded = () => {
      request.result.createObjectStore("outbox", { keyPath: "rid" });
      request.result.createObjectStore("settings");
      if (version > 1) request.result.createObjectStore("drafts", { keyPath: "id" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  await new Promise((resolve) => {
    const stores = version > 1 ? ["outbox", "settings", "drafts"] : ["outbox", "settings"];
    const tx = old.transaction(stores, "readwrite");
    for (const rid of entries) {
      tx.objectStore("outbox").put({ rid, envelope: {}, savedOn: "2026-11-30", state: "queued" });
    }
    tx.objectStore("settings").put("token-1", "deviceToken");
    if (version > 1) tx.objectStore("drafts").put({ id: "d-old", sealed: {}, expiresAt: 2 });
    tx.oncomplete = resolve;
  });
  old.close();
}
"""

MOVED = """
async () => {
  const db = await import("/static/js/db.js");
  return { outbox: (await db.outboxEntries()).map((e) => e.rid).sort(),
           drafts: (await db.draftEntries()).map((d) => d.id),
           token: await db.getSetting("deviceToken"),
           databases: (await indexedDB.databases()).map((d) => d.name).sort() };
}
"""


@pytest.mark.parametrize("version", [1, 2])
def test_the_database_of_an_earlier_version_moves_under_a_neutral_name_with_every_report(
    page, live_server, version
) -> None:
    page.goto(live_server.url + "/static/css/app.css")  # a page of the origin that does not open the database
    page.evaluate(OLD_DATABASE, {"version": version, "entries": ["r-1", "r-2"]})
    moved = page.evaluate(MOVED)
    assert moved == {
        "outbox": ["r-1", "r-2"],
        "drafts": ["d-old"] if version > 1 else [],
        "token": "token-1",
        "databases": ["local"],  # the name that said what the app is, gone
    }
    # An old tab still open writes there again: the next start moves that too, and keeps what is here.
    page.evaluate(OLD_DATABASE, {"version": version, "entries": ["r-2", "r-3"]})
    page.reload()
    moved = page.evaluate(MOVED)
    assert moved["outbox"] == ["r-1", "r-2", "r-3"] and moved["databases"] == ["local"]


def test_every_vault_carries_a_marker_of_one_shape_whether_a_duress_pin_was_chosen_or_not(page, live_server) -> None:
    page.goto(live_server.url + "/static/css/app.css")
    shapes = page.evaluate(
        """async () => {
          const lock = await import("/static/js/lock.js");
          const db = await import("/static/js/db.js");
          const shapes = [];
          for (const duress of ["", "135790"]) {
            await lock.setPin("482913", duress);
            const { duress: marker } = await db.getSetting("lock");
            shapes.push([marker.iv.length, marker.ct.length]);
          }
          return shapes;
        }"""
    )
    assert shapes == [[12, 32], [12, 32]]
