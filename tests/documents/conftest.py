"""Fixtures for documents: a group with its people, and storage backends.

``storage`` is parametrized over the local filesystem and an S3-compatible HTTP
endpoint (moto's server, started once per session on a free port). Tests that
take it run against both; S3 skips (or fails in CI) when moto cannot start.
"""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import make_secretariat, need_service
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group

S3_KEYS = {"access_key": "testing", "secret_key": "testing", "region_name": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint():
    """The URL of a moto S3 server, or None when it cannot be started."""
    # The moto of this environment first (another Python's moto may be older).
    exe = Path(sys.executable).parent / "moto_server"
    if not exe.exists():
        exe = Path(shutil.which("moto_server") or "/nonexistent")
    if not exe.exists():
        yield None
        return
    port = _free_port()
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    up = False
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)  # noqa: S310
            up = True
            break
        except OSError:
            time.sleep(0.2)
    try:
        yield url if up else None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class Backend:
    name: str
    bucket: str | None = None
    client: object | None = None

    def keys(self, settings) -> set[str]:
        """Every stored file key."""
        if self.name == "s3":
            listing = self.client.list_objects_v2(Bucket=self.bucket)
            return {obj["Key"] for obj in listing.get("Contents", [])}
        root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
        if not root.exists():
            return set()
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def production_storage(endpoint: str, bucket: str, **environment: str) -> dict:
    """``STORAGES["default"]`` exactly as the settings build it from the environment."""
    import environ

    from portal.settings.base import default_storage_from

    env = environ.Env()
    env.ENVIRON = {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": S3_KEYS["access_key"],
        "AWS_SECRET_ACCESS_KEY": S3_KEYS["secret_key"],
        "AWS_S3_REGION_NAME": S3_KEYS["region_name"],
        **environment,
    }
    return default_storage_from(env, Path("/nonexistent"))


def use_s3(settings, endpoint: str, **environment: str) -> Backend:
    """A fresh bucket on moto, used through the production storage options."""
    import boto3

    bucket = f"docs-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEYS["access_key"],
        aws_secret_access_key=S3_KEYS["secret_key"],
        region_name=S3_KEYS["region_name"],
    )
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": production_storage(endpoint, bucket, **environment),
    }
    return Backend("s3", bucket, client)


@pytest.fixture(params=["local", "s3"])
def storage(request, settings, moto_endpoint):
    """The default storage, once on the local filesystem and once on S3 (moto)."""
    if request.param == "local":
        return Backend("local")
    need_service(moto_endpoint is not None, "moto_server (S3-compatible endpoint) did not start")
    return use_s3(settings, moto_endpoint)


@pytest.fixture
def world(db):
    """A group with a coordinator and two members; another group; an outsider; the secretariat."""
    group = make_group(slug="target")
    other = make_group(slug="elsewhere")
    return {
        "group": group,
        "other": other,
        "coordinator": coordinator_of(group),
        "member": add_member(group),
        "member2": add_member(group),
        "other_member": add_member(other),
        "outsider": UserFactory(),
        "secretariat": make_secretariat(UserFactory()),
    }
