"""The ledger's stores keep the same contract: records, stack runs, archives, history, and the environment
lock (one holder at a time, compare-and-swap by token). SQLite against a real file; S3 against moto;
Terraform Cloud against the TFE test server (state versions' serial checks for compare-and-swap)."""

from __future__ import annotations

import json
import sqlite3
import ssl
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stacks_cloud.config import CloudStateSettings, S3StateSettings, StateEndpoints
from stacks_cloud.core.errors import LedgerError
from stacks_cloud.state import SCHEMA_VERSION, Ledger, LockHolder, S3Ledger, SqliteLedger
from stacks_cloud.state.cloud.ledger import TfcLedger
from stacks_cloud.terraform.tfe_api import TfeClient
from tests.servers import MOTO_ACCESS_KEY, Moto
from tests.tfe_server import TfeServer

MakeLedger = Callable[[], Ledger]


def s3_settings(moto: Moto, bucket: str) -> S3StateSettings:
    return S3StateSettings(
        bucket=bucket,
        region="us-east-1",
        endpoints=StateEndpoints(s3=moto.url),
        use_path_style=True,
        skip_aws_checks=True,
    )


@pytest.fixture(scope="module")
def tfe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TfeServer]:
    with TfeServer(["acme"], work_dir=tmp_path_factory.mktemp("tfe-ledger")) as server:
        yield server


@pytest.fixture(params=["sqlite", "s3", "tfc"])
def make_ledger(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeLedger:
    """A factory of ledger handles on one store (each call: another process's view of the same store)."""
    if request.param == "sqlite":
        return lambda: SqliteLedger(tmp_path / ".state" / "ledger.sqlite", busy_timeout=60)
    if request.param == "tfc":
        server: TfeServer = request.getfixturevalue("tfe")
        settings = CloudStateSettings(organization="acme", hostname=server.hostname)
        context = ssl.create_default_context(cafile=str(server.ca_file))
        app = f"shop{uuid.uuid4().hex[:8]}"  # a store of its own: the ledger workspace is named after it
        return lambda: TfcLedger(
            TfeClient(server.hostname, server.token, context=context), settings, app=app, environment="production"
        )
    moto: Moto = request.getfixturevalue("moto")
    bucket = f"ledger-{uuid.uuid4().hex[:12]}"
    moto.client("s3").create_bucket(Bucket=bucket)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", MOTO_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", MOTO_ACCESS_KEY)
    return lambda: S3Ledger(s3_settings(moto, bucket), app="shop", environment="production")


def start(ledger: Ledger, deployment_id: str, version: str = "1", **options: object) -> None:
    ledger.start(
        deployment_id,
        app="shop",
        environment="production",
        version=version,
        provider="aws",
        config_hash="h",
        **options,  # type: ignore[arg-type]
    )


def test_records_round_trip_and_history_is_newest_first(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    start(ledger, "production-20261127T100000000-aaaaaa", "1.0", config_snapshot={"app_name": "shop"})
    start(ledger, "production-20261127T110000000-bbbbbb", "1.1", kind="rollback", rollback_of="x")
    run = {"run": "run-abc123", "url": "https://app.terraform.io/app/acme/shop-eu/runs/run-abc123"}
    ledger.set_stack(
        "production-20261127T110000000-bbbbbb", "shop-eu", "deployed", outputs={"Url": "u"}, seconds=3, run=run
    )
    ledger.set_stack("production-20261127T110000000-bbbbbb", "shop-eu", "deployed", error=None)  # keeps the rest
    ledger.set_status("production-20261127T110000000-bbbbbb", "running", url="https://shop")

    other = make_ledger()  # another clone, nothing local
    newest, oldest = other.history("shop", "production")
    assert (newest.version, newest.status, newest.url, newest.kind, newest.rollback_of) == (
        "1.1",
        "running",
        "https://shop",
        "rollback",
        "x",
    )
    assert newest.stacks == {
        "shop-eu": {"status": "deployed", "outputs": {"Url": "u"}, "seconds": 3, "error": None, "run": run}
    }
    assert newest.finished_at is not None
    assert "@" in (newest.operator or "")
    assert (oldest.version, oldest.status, oldest.config_snapshot) == ("1.0", "pending", {"app_name": "shop"})
    assert other.get("production-20261127T100000000-aaaaaa") == oldest
    assert other.live("shop", "production") == newest
    assert other.history("shop", "staging") == []


def test_no_planted_secret_reaches_any_store_raw_or_encoded(make_ledger: MakeLedger) -> None:
    """Issue 26, findings 2 and 6: values under secret-looking keys the masker once missed, and a registered
    secret holding a quote, a backslash, a tab and a non-ASCII character, through every write of each store."""
    from stacks_cloud.core.secrets import register_secret

    quoted = 'q"uo\\te\ttab-\u00e9-Ledger-55'
    register_secret(quoted)
    headers = {
        "Authorization": "Bearer Ledger-Hdr-7781",
        "api-key": "Ledger-Dash-6619",
        "licenseKey": "Ledger-Lic-5521",
        "sessionKey": "Ledger-Sess-3307",
        "bearer": "Ledger-Bare-9902",
        "passcode": "Ledger-Code-4410",
        "jwt": "Ledger-Jwt-8812",
    }
    ledger = make_ledger()
    deployment = "production-20261127T100000000-qqqqqq"
    start(ledger, deployment, config_snapshot={"custom": {"headers": headers, "note": f"with {quoted}"}})
    ledger.set_stack(deployment, "shop-eu", "deployed", outputs={"Note": f"out {quoted}"}, error=f"err {quoted}")
    ledger.set_checks(deployment, f"passed: {quoted}")
    ledger.set_status(deployment, "failed", error=f"failed with {quoted}")
    (record,) = make_ledger().history("shop", "production")
    text = json.dumps(record.__dict__, default=str, ensure_ascii=False)
    encoded = json.dumps(record.__dict__, default=str)
    for value in [quoted, *(v.removeprefix("Bearer ") for v in headers.values())]:
        for form in {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}:
            assert form not in text, value
            assert form not in encoded, value
    assert record.config_snapshot is not None
    assert record.config_snapshot["custom"]["headers"] == dict.fromkeys(headers, "**********")
    assert record.stacks["shop-eu"]["outputs"] == {"Note": "out **********"}


def test_an_id_is_recorded_once(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    start(ledger, "production-20261127T100000000-aaaaaa")
    with pytest.raises(LedgerError):
        start(make_ledger(), "production-20261127T100000000-aaaaaa")


def test_archives_round_trip_and_are_pruned_to_the_newest_completed(make_ledger: MakeLedger, tmp_path: Path) -> None:
    ledger = make_ledger()
    synth = tmp_path / "cdktf.out"
    (synth / "stacks" / "s" / ".terraform").mkdir(parents=True)
    (synth / "stacks" / "s" / ".terraform" / "huge").write_bytes(b"x" * 1000)
    (synth / "stacks" / "s" / "cdk.tf.json").write_text('{"resource": {}}')
    (synth / "manifest.json").write_text("{}")
    ids = [f"production-20261127T1{n}0000000-aaaaaa" for n in range(5)]
    for index, deployment_id in enumerate(ids):
        start(ledger, deployment_id)
        ledger.archive(deployment_id, synth)
        ledger.set_status(deployment_id, "failed" if index == 2 else "superseded")
    restored = make_ledger().extract(ids[0], tmp_path / "restored")
    assert sorted(str(p.relative_to(restored)) for p in restored.rglob("*") if p.is_file()) == [
        "manifest.json",
        "stacks/s/cdk.tf.json",
    ]
    dropped = ledger.prune_archives("shop", "production", keep=2)
    # newest always kept; then the two newest completed (3 and 1); the failed 2 and the oldest 0 go
    assert sorted(dropped) == sorted([ids[2], ids[0]])
    assert [r.has_archive for r in ledger.history("shop", "production")] == [True, True, False, True, False]
    with pytest.raises(LookupError):
        ledger.extract(ids[0], tmp_path / "gone")


def test_the_environment_lock_has_one_holder_and_swaps_by_token(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    first = LockHolder.for_this_process("d1", "deploy", lease=600)
    held = ledger.create_lock("shop", "production", first)
    assert held is not None
    assert held.token
    assert ledger.create_lock("shop", "production", LockHolder.for_this_process("d2", "deploy")) is None
    seen = make_ledger().read_lock("shop", "production")
    assert seen is not None
    assert (seen.deployment_id, seen.pid, seen.expires_at) == ("d1", first.pid, first.expires_at)
    renewed = ledger.replace_lock("shop", "production", held, first.renewed(600))
    assert isinstance(renewed, LockHolder)
    assert renewed.token != held.token
    assert ledger.replace_lock("shop", "production", held, None) is False  # the old token no longer matches
    assert ledger.replace_lock("shop", "production", renewed, None) is None
    assert ledger.read_lock("shop", "production") is None
    assert ledger.read_lock("shop", "staging") is None


def test_concurrent_lock_takers_exactly_one_wins(make_ledger: MakeLedger) -> None:
    def take(n: int) -> bool:
        return (
            make_ledger().create_lock("shop", "production", LockHolder.for_this_process(f"d{n}", "deploy")) is not None
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(take, range(8)))
    assert results.count(True) == 1


def test_concurrent_stack_writers_lose_nothing(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    start(ledger, "production-20261127T100000000-aaaaaa")

    def write(n: int) -> None:
        make_ledger().set_stack("production-20261127T100000000-aaaaaa", f"stack-{n}", "deployed", outputs={"n": n})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(16)))
    (record,) = ledger.history("shop", "production")
    assert sorted(record.stacks) == sorted(f"stack-{n}" for n in range(16))
    assert record.stacks["stack-7"]["outputs"] == {"n": 7}


# --- SQLite specifics --------------------------------------------------------------------------------------

OLD_SCHEMA = """
CREATE TABLE deployments (id TEXT PRIMARY KEY, app TEXT NOT NULL, environment TEXT NOT NULL, version TEXT NOT NULL,
    provider TEXT NOT NULL, config_hash TEXT NOT NULL, status TEXT NOT NULL, url TEXT, error TEXT, rollback_of TEXT,
    started_at REAL NOT NULL, finished_at REAL, archive BLOB);
CREATE TABLE stack_runs (deployment_id TEXT NOT NULL REFERENCES deployments (id), stack TEXT NOT NULL,
    status TEXT NOT NULL, outputs TEXT, seconds REAL, error TEXT, updated_at REAL NOT NULL,
    PRIMARY KEY (deployment_id, stack));
INSERT INTO deployments VALUES ('d0', 'shop', 'production', '0.9', 'aws', 'h', 'running', 'https://old', NULL, NULL,
    1.0, 2.0, NULL);
"""


def test_a_ledger_written_by_0_1_is_read_and_migrated_on_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    ledger = SqliteLedger(path)
    (old,) = ledger.history("shop", "production")
    assert (old.version, old.status, old.kind, old.config_snapshot) == ("0.9", "running", "deploy", None)
    start(ledger, "production-20261127T100000000-aaaaaa", "1.0", config_snapshot={"a": 1})
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [r.version for r in ledger.history("shop", "production")] == ["1.0", "0.9"]


def test_the_file_is_private_and_reads_create_nothing(tmp_path: Path) -> None:
    path = tmp_path / ".state" / "ledger.sqlite"
    ledger = SqliteLedger(path)
    assert ledger.history("shop", "production") == []
    assert ledger.read_lock("shop", "production") is None
    assert not path.parent.exists()
    start(ledger, "production-20261127T100000000-aaaaaa")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_damaged_ledger_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not an sqlite database, it was overwritten by accident" * 100)
    with pytest.raises(LedgerError) as error:
        SqliteLedger(path).history("shop", "production")
    assert "is damaged" in str(error.value)
    assert f"mv {path} {path}.damaged" in str(error.value)


def test_a_newer_schema_is_refused_with_an_upgrade_hint(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    start(SqliteLedger(path), "production-20261127T100000000-aaaaaa")
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(LedgerError, match="newer than this stacks-cloud knows"):
        SqliteLedger(path).history("shop", "production")


def test_a_ledger_locked_too_long_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    start(SqliteLedger(path), "production-20261127T100000000-aaaaaa")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"db = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LedgerError) as error:
            SqliteLedger(path, busy_timeout=0.5).set_status("production-20261127T100000000-aaaaaa", "running")
        assert "is locked by another process" in str(error.value)
    finally:
        holder.kill()
        holder.wait()


def test_a_read_only_ledger_can_be_read_but_not_written(tmp_path: Path) -> None:
    """Run as an unprivileged user (root ignores file modes): reads work, a write is a clear error.

    The user keeps CAP_DAC_READ_SEARCH (reading any file, entering any folder, never writing), so the SDK
    and its virtual environment stay importable from a checkout only its owner can enter (`mktemp -d`, a
    private home), and no folder's mode is changed."""
    folder = tmp_path / "state"
    folder.mkdir()
    path = folder / "ledger.sqlite"
    start(SqliteLedger(path), "production-20261127T100000000-aaaaaa")
    path.chmod(0o644)
    code = (
        "import sys\n"
        f"sys.path[:0] = {sys.path!r}\n"
        "from stacks_cloud.state import SqliteLedger\n"
        "from stacks_cloud.core.errors import LedgerError\n"
        f"ledger = SqliteLedger(__import__('pathlib').Path({str(path)!r}))\n"
        "print([r.version for r in ledger.history('shop', 'production')])\n"
        "try:\n"
        "    ledger.set_status('production-20261127T100000000-aaaaaa', 'running')\n"
        "except LedgerError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [
            *("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"),
            *("--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"),
            *(sys.executable, "-c", code),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0 and "Operation not permitted" in result.stderr:
        pytest.skip("setpriv cannot drop privileges here, so a read-only file cannot be simulated for root")
    assert result.returncode == 0, result.stderr
    read, write = result.stdout.splitlines()[:2]
    assert read == "['1']"
    assert "is read-only" in write
    assert "make" in write


def test_a_cloud_projects_local_history_is_copied_to_terraform_cloud_once(
    tfe: TfeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before 0.3 the `cloud` backend kept history on the deploying machine: the first use copies it."""
    from stacks_cloud.config import CloudConfig
    from stacks_cloud.state import backend_for

    local = SqliteLedger(tmp_path / ".state" / "ledger.sqlite")
    start(local, "production-20261101T100000000-aaaaaa", "1.0")
    local.set_stack("production-20261101T100000000-aaaaaa", "shop-eu", "deployed", outputs={"Url": "u"})
    local.set_status("production-20261101T100000000-aaaaaa", "running", url="https://shop")
    synth = tmp_path / "synth"
    (synth / "stacks" / "shop-eu").mkdir(parents=True)
    (synth / "stacks" / "shop-eu" / "cdk.tf.json").write_text("{}")
    local.archive("production-20261101T100000000-aaaaaa", synth)
    monkeypatch.setenv(f"TF_TOKEN_{tfe.hostname.replace('.', '_')}", tfe.token)
    monkeypatch.setenv("SSL_CERT_FILE", str(tfe.ca_file))
    config = CloudConfig.model_validate(
        {
            "appName": "shop",
            "environment": "production",
            "state": {"backend": "cloud", "cloud": {"organization": "acme", "hostname": tfe.hostname}},
        }
    )
    ledger = backend_for(config).open_ledger(config, tmp_path)
    (record,) = ledger.history("shop", "production")
    assert (record.id, record.version, record.status, record.url) == (
        "production-20261101T100000000-aaaaaa",
        "1.0",
        "running",
        "https://shop",
    )
    assert record.stacks["shop-eu"]["outputs"] == {"Url": "u"}
    assert record.has_archive
    extracted = ledger.extract(record.id, tmp_path / "extracted")
    assert (extracted / "stacks" / "shop-eu" / "cdk.tf.json").read_text() == "{}"
    start(local, "production-20261101T110000000-bbbbbb", "1.1")  # the local file is not read again as history
    again = backend_for(config).open_ledger(config, tmp_path)
    assert [r.version for r in again.history("shop", "production")] == ["1.0"]
