"""Both storage backends through one set of tests: local disk, and S3 against a real
S3-compatible server (moto's, on a free port; BEELDCOACH_TEST_S3_URL selects another)."""

from __future__ import annotations

import builtins
import os
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from lti_tool.media.storage import LocalStorage, S3Storage, Storage, get_storage
from lti_tool.settings import load_settings

S3_KEYS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_url() -> Iterator[str]:
    """An S3-compatible server: BEELDCOACH_TEST_S3_URL (credentials from AWS_*), else moto."""
    given = os.environ.get("BEELDCOACH_TEST_S3_URL")
    if given:
        yield given
        return
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_settings(s3_url: str, tmp_path: Path, prefix: str = "") -> Any:
    """Settings for a fresh bucket on the test server."""
    bucket = "bc-" + uuid.uuid4().hex[:12]
    extra = {} if os.environ.get("BEELDCOACH_TEST_S3_URL") else S3_KEYS
    settings = load_settings(
        {},
        instance_path=str(tmp_path / "instance"),
        storage="s3",
        s3_bucket=bucket,
        s3_endpoint_url=s3_url,
        s3_prefix=prefix,
        **extra,
    )
    storage = get_storage(settings)
    assert isinstance(storage, S3Storage)
    storage.client.create_bucket(Bucket=bucket)
    return settings


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        settings = load_settings({}, instance_path=str(tmp_path / "instance"))
        return get_storage(settings)
    s3_url = request.getfixturevalue("s3_url")
    return get_storage(s3_settings(s3_url, tmp_path, prefix="tenant/"))


def _file(tmp_path: Path, data: bytes, name: str = "src.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_put_and_read_back(storage: Storage, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    src = _file(tmp_path, data)
    storage.put_file("recordings/12/original.mov", src)
    assert src.exists()  # copied, not moved
    assert storage.exists("recordings/12/original.mov")
    assert storage.size("recordings/12/original.mov") == len(data)
    with storage.open("recordings/12/original.mov") as fh:
        assert fh.read() == data
    with storage.local_path("recordings/12/original.mov") as path:
        assert path.read_bytes() == data
        assert path.suffix == ".mov"  # ffmpeg looks at it
        fetched = path
    if isinstance(storage, S3Storage):
        assert not fetched.exists()  # the downloaded copy is gone after use
        assert storage.local_file("recordings/12/original.mov") is None
    else:
        assert storage.local_file("recordings/12/original.mov") == fetched
        assert fetched.exists()


def test_put_replaces_and_moves(storage: Storage, tmp_path: Path) -> None:
    storage.put_file("a/b.mp4", _file(tmp_path, b"old"))
    src = _file(tmp_path, b"new contents", "new.bin")
    storage.put_file("a/b.mp4", src, move=True)
    assert not src.exists()
    with storage.open("a/b.mp4") as fh:
        assert fh.read() == b"new contents"


def test_missing_keys(storage: Storage) -> None:
    assert not storage.exists("nope/x.mp4")
    with pytest.raises(FileNotFoundError):
        storage.size("nope/x.mp4")
    with pytest.raises(FileNotFoundError):
        storage.open("nope/x.mp4")
    with pytest.raises(FileNotFoundError), storage.local_path("nope/x.mp4"):
        pass
    storage.delete("nope/x.mp4")  # missing is fine
    assert storage.delete_prefix("nope/") == 0
    assert storage.list("nope/") == []


def test_list_and_delete(storage: Storage, tmp_path: Path) -> None:
    src = _file(tmp_path, b"x")
    for key in ("recordings/1/a.mp4", "recordings/1/thumbs/1.jpg", "recordings/10/a.mp4"):
        storage.put_file(key, src)
    assert storage.list("recordings/1/") == ["recordings/1/a.mp4", "recordings/1/thumbs/1.jpg"]
    # A prefix is a string prefix, as in S3: "recordings/1" also names recording 10.
    assert storage.list("recordings/1") == [
        "recordings/1/a.mp4",
        "recordings/1/thumbs/1.jpg",
        "recordings/10/a.mp4",
    ]
    storage.delete("recordings/1/a.mp4")
    assert not storage.exists("recordings/1/a.mp4")
    assert storage.delete_prefix("recordings/1/") == 1
    assert storage.list("recordings/") == ["recordings/10/a.mp4"]
    if isinstance(storage, LocalStorage):
        assert not (storage.root / "recordings" / "1").exists()  # emptied folders go too


def test_bad_keys_are_refused(storage: Storage, tmp_path: Path) -> None:
    src = _file(tmp_path, b"x")
    for key in ("../etc/passwd", "a/../../b", "/abs/path", "a\\b", "", "a//b", "./a", "a/."):
        with pytest.raises(ValueError):
            storage.put_file(key, src)
        with pytest.raises(ValueError):
            storage.exists(key)
    with pytest.raises(ValueError):
        storage.delete_prefix("")  # never "everything"
    with pytest.raises(ValueError):
        storage.list("../")


class _FailingReader:
    """A file that breaks after `limit` bytes, like a disk error halfway through."""

    def __init__(self, fh: Any, limit: int) -> None:
        self._fh = fh
        self._left = limit

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise OSError(5, "Input/output error")
        data = self._fh.read(size if size >= 0 else self._left)
        self._left -= len(data)
        return bytes(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _FailingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


@pytest.mark.parametrize("size", [300_000, 12 * 1024 * 1024], ids=["single", "multipart"])
def test_put_is_atomic_when_the_source_fails_midway(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    if isinstance(storage, S3Storage):
        # Small parts so that 12 MB is a real multipart upload (S3's minimum part is 5 MiB).
        from boto3.s3.transfer import TransferConfig

        storage.transfer = TransferConfig(
            multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
        )
    storage.put_file("r/1/web.mp4", _file(tmp_path, b"previous version", "old.bin"))
    src = _file(tmp_path, os.urandom(size))
    real_open = builtins.open

    def failing_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = real_open(file, mode, *args, **kwargs)
        if str(file) == str(src) and "r" in mode:
            return _FailingReader(fh, size // 2)
        return fh

    monkeypatch.setattr(builtins, "open", failing_open)
    with pytest.raises(OSError):
        storage.put_file("r/1/web.mp4", src)  # replacing: the old version stays whole
    with pytest.raises(OSError):
        storage.put_file("r/1/new.mp4", src)
    if isinstance(storage, S3Storage):
        with pytest.raises(OSError):
            storage.put_file("r/1/new.mp4", src, move=True)
        assert src.exists()  # a failed move keeps the source
    monkeypatch.setattr(builtins, "open", real_open)

    assert not storage.exists("r/1/new.mp4")
    assert storage.list("r/") == ["r/1/web.mp4"]  # no temporary or partial object either
    with storage.open("r/1/web.mp4") as fh:
        assert fh.read() == b"previous version"
    if isinstance(storage, LocalStorage):
        assert sorted(p.name for p in (storage.root / "r" / "1").iterdir()) == ["web.mp4"]
    elif isinstance(storage, S3Storage):
        pending = storage.client.list_multipart_uploads(Bucket=storage.bucket)
        assert not pending.get("Uploads")  # aborted, not left to accrue


def test_s3_delete_prefix_pages_past_1000_keys(s3_url: str, tmp_path: Path) -> None:
    storage = get_storage(s3_settings(s3_url, tmp_path))
    assert isinstance(storage, S3Storage)
    client, bucket = storage.client, storage.bucket
    keys = [f"recordings/7/thumbs/{i:05d}.jpg" for i in range(1234)]
    if os.environ.get("BEELDCOACH_TEST_S3_URL"):
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=b"j"), keys))
    else:
        # moto runs in this process: fill its bucket directly (1,234 PUTs over HTTP cost ~7 s
        # of a shared GIL); listing and deleting still go over HTTP, which is what is tested.
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        for key in keys:
            backend.put_object(bucket, key, b"j")
    client.put_object(Bucket=bucket, Key="recordings/70/keep.jpg", Body=b"j")
    assert len(storage.list("recordings/7/")) == 1234
    assert storage.delete_prefix("recordings/7/") == 1234
    assert storage.list("recordings/") == ["recordings/70/keep.jpg"]


def test_s3_prefix_and_presigned_url(s3_url: str, tmp_path: Path) -> None:
    settings = s3_settings(s3_url, tmp_path, prefix="school-a")
    storage = get_storage(settings)
    assert isinstance(storage, S3Storage)
    assert get_storage(settings) is storage  # one client per configuration
    data = os.urandom(5000)
    storage.put_file("montages/3/web.mp4", _file(tmp_path, data))
    objects = storage.client.list_objects_v2(Bucket=storage.bucket)["Contents"]
    assert [o["Key"] for o in objects] == ["school-a/montages/3/web.mp4"]
    assert storage.list("montages/") == ["montages/3/web.mp4"]

    url = storage.presigned_url("montages/3/web.mp4", 60, content_type="video/mp4")
    assert url is not None and "X-Amz-Signature" in url
    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["Content-Type"] == "video/mp4"
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206 and part.content == data[100:200]


def test_local_has_no_presigned_url(tmp_path: Path) -> None:
    storage = get_storage(load_settings({}, instance_path=str(tmp_path)))
    assert isinstance(storage, LocalStorage)
    assert storage.presigned_url("a/b.mp4", 60) is None
    assert storage.root == (tmp_path / "media").resolve()


def test_unknown_backend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown storage"):
        get_storage(load_settings({}, instance_path=str(tmp_path), storage="ftp"))
