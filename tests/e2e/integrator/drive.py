"""Drives ListBackup through a client generated from api/openapi.json, as an integrator would:
register -> connection -> source -> backup -> job succeeded -> snapshot records.

Run by tests/e2e/client.rs with the generated package on PYTHONPATH. Prints one JSON line at the
end: the records read back per stream.
"""

import json
import os
import sys
import time

from listbackup_client import AuthenticatedClient, Client
from listbackup_client.api.auth import get_me, register
from listbackup_client.api.backups import start_backup
from listbackup_client.api.connections import create_connection, test_connection
from listbackup_client.api.jobs import get_job
from listbackup_client.api.platforms import list_platforms
from listbackup_client.api.snapshots import (
    download_stream,
    get_stream_records,
    list_snapshot_streams,
    list_snapshots,
)
from listbackup_client.api.sources import create_source
from listbackup_client.models import CreateConnection, CreateSource, Register, StartJobRequest

BASE = os.environ["LB_API"]


def expect(response, status):
    if response.status_code != status:
        sys.exit(f"expected {status}, got {response.status_code}: {response.content!r}")
    return response.parsed


anonymous = Client(base_url=BASE, raise_on_unexpected_status=True)
registration = expect(
    register.sync_detailed(
        client=anonymous,
        body=Register(
            email="integrator@example.com",
            password="a long enough password",
            name="Integrator",
            account_name="Integrator Co",
        ),
    ),
    201,
)
account_id = registration.account.id
client = AuthenticatedClient(
    base_url=BASE, token=registration.tokens.access_token, raise_on_unexpected_status=True
)
me = expect(get_me.sync_detailed(client=client), 200)
assert me.user.email == "integrator@example.com", me

platforms = expect(list_platforms.sync_detailed(client=client), 200)
assert "stripe" in [p.id for p in platforms.items], platforms

connection = expect(
    create_connection.sync_detailed(
        account_id,
        client=client,
        body=CreateConnection(
            platform="stripe",
            name="Stripe",
            credentials={"api_key": os.environ["LB_STRIPE_API_KEY"]},
            config={"base_url": os.environ["LB_STRIPE_BASE_URL"]},
        ),
    ),
    201,
)
checked = expect(test_connection.sync_detailed(connection.id, client=client), 200)
assert checked.ok, checked

source = expect(
    create_source.sync_detailed(
        account_id,
        client=client,
        body=CreateSource(connection_id=connection.id, name="all of Stripe"),
    ),
    201,
)
started = expect(
    start_backup.sync_detailed(source.id, client=client, body=StartJobRequest()), 202
)

deadline = time.monotonic() + 180
while True:
    job = expect(get_job.sync_detailed(started.job_id, client=client), 200)
    if job.status in ("succeeded", "failed", "cancelled"):
        break
    if time.monotonic() > deadline:
        sys.exit(f"job still {job.status} after 180 s")
    time.sleep(0.5)
assert job.status == "succeeded", job

snapshots = expect(list_snapshots.sync_detailed(source.id, client=client), 200)
assert [s.id for s in snapshots.items] == [job.snapshot_id], snapshots
streams = expect(list_snapshot_streams.sync_detailed(job.snapshot_id, client=client), 200)

records = {}
for stream in streams.items:
    ids = set()
    cursor = None
    while True:
        kwargs = {"limit": 250}
        if cursor:
            kwargs["cursor"] = cursor
        page = get_stream_records.sync_detailed(
            job.snapshot_id, stream.name, client=client, **kwargs
        )
        if page.status_code != 200:
            sys.exit(f"records of {stream.name}: {page.status_code} {page.content!r}")
        for line in page.content.decode().splitlines():
            record = json.loads(line)
            assert record["id"] not in ids, f"{stream.name}: {record['id']} twice"
            ids.add(record["id"])
        cursor = page.headers.get("x-next-cursor")
        if not cursor:
            break
    assert len(ids) == stream.records, (stream.name, len(ids), stream.records)
    records[stream.name] = len(ids)

    # The whole stream as one .jsonl file holds the same records.
    whole = download_stream.sync_detailed(job.snapshot_id, stream.name, client=client)
    assert whole.status_code == 200, (stream.name, whole.status_code)
    lines = whole.content.decode().splitlines()
    assert {json.loads(line)["id"] for line in lines} == ids, stream.name

print(json.dumps({"snapshot_id": job.snapshot_id, "records": records}))
