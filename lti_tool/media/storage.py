"""Where media files live: one small interface, a local-disk and an S3 backend (by settings)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol, cast

from flask import current_app

from lti_tool.settings import Settings

# Temporary names of files being written; never listed, never taken for keys.
_TMP_PREFIX = ".put-"
_COPY_BLOCK = 1024 * 1024

# What players and browsers need to be told; everything else is application/octet-stream.
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".ts": "video/mp2t",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".vtt": "text/vtt",
    ".json": "application/json",
}


def content_type_for(key: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(key).suffix.lower(), "application/octet-stream")


class Storage(Protocol):
    """Media files by key (a relative POSIX path such as `recordings/12/original.mov`)."""

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        """Store src under key, atomically: readers see the old object or the whole new one."""
        ...

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """A readable local file with the key's bytes for as long as the context lasts."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int:
        """The size in bytes; FileNotFoundError if there is no such key."""
        ...

    def delete(self, key: str) -> None:
        """Remove the key; a missing key is fine."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with prefix (a non-empty folder such as `recordings/12/`);
        the number removed."""
        ...

    def list(self, prefix: str) -> list[str]:
        """The keys starting with prefix, sorted."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The bytes for reading (seekable on local disk only); FileNotFoundError if absent."""
        ...

    def local_file(self, key: str) -> Path | None:
        """The file itself on local disk (no copy); None for object storage."""
        ...

    def presigned_url(
        self, key: str, expires_s: int, *, content_type: str | None = None
    ) -> str | None:
        """A URL that serves the key without the app for expires_s seconds (S3 only)."""
        ...


def check_key(key: str, *, prefix: bool = False) -> str:
    """The key if it is a safe relative POSIX path; ValueError otherwise. A prefix may be empty
    and may end with a slash."""
    if not isinstance(key, str):
        raise ValueError("a storage key is a string")
    if key == "" and prefix:
        return key
    if not key or "\\" in key or "\x00" in key or key.startswith("/"):
        raise ValueError(f"bad storage key: {key!r}")
    parts = key.split("/")
    if prefix and key.endswith("/"):
        parts = parts[:-1]
    if any(part in ("", ".", "..") or part.startswith(_TMP_PREFIX) for part in parts):
        raise ValueError(f"bad storage key: {key!r}")
    return key


class LocalStorage:
    """Files under one root folder (settings.media_dir)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if move:
            try:
                # Same filesystem: a rename, atomic and instant whatever the size.
                os.replace(src, target)
                return
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
        fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with open(src, "rb") as fsrc, os.fdopen(fd, "wb") as fdst:
                shutil.copyfileobj(fsrc, fdst, _COPY_BLOCK)
                fdst.flush()
                os.fsync(fdst.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if move:
            Path(src).unlink(missing_ok=True)

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        yield path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path.stat().st_size

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        if not check_key(prefix, prefix=True):
            raise ValueError("refusing to delete every key")
        keys = self.list(prefix)
        folders: set[Path] = set()
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            folders.update(p for p in path.parents if self.root in p.parents)
        # Folders emptied on the way go too, deepest first; one still holding something stays.
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()
        return len(keys)

    def list(self, prefix: str) -> list[str]:
        check_key(prefix, prefix=True)
        # Walk only the deepest folder that the prefix names entirely.
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return []
        keys = []
        for folder, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if not d.startswith(_TMP_PREFIX)]
            rel = Path(folder).relative_to(self.root).as_posix()
            for name in files:
                if name.startswith(_TMP_PREFIX):
                    continue
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")  # noqa: SIM115 - the caller closes it

    def local_file(self, key: str) -> Path | None:
        return self._path(key)

    def presigned_url(
        self, key: str, expires_s: int, *, content_type: str | None = None
    ) -> str | None:
        return None


class S3Storage:
    """Objects in one bucket of S3 or an S3-compatible server, under an optional key prefix."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str = "",
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        multipart_threshold: int = 64 * 1024 * 1024,
        multipart_chunksize: int = 64 * 1024 * 1024,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        if not bucket:
            raise ValueError("storage = s3 needs s3_bucket")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        if prefix:
            check_key(prefix, prefix=True)
        self.bucket = bucket
        self.prefix = prefix
        # Path-style addressing: S3-compatible servers (MinIO, Garage, moto) rarely have
        # wildcard DNS for bucket subdomains. Credentials: the standard AWS_* environment (or
        # an instance role) unless given here.
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                retries={"max_attempts": 5, "mode": "standard"},
            ),
        )
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=4,
        )

    def _k(self, key: str) -> str:
        return self.prefix + check_key(key)

    @staticmethod
    def _missing(exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        # A single PUT or a completed multipart upload appears whole or not at all; a failed
        # multipart upload is aborted by the transfer manager.
        self.client.upload_file(
            str(src),
            self.bucket,
            self._k(key),
            ExtraArgs={"ContentType": content_type_for(key)},
            Config=self.transfer,
        )
        if move:
            Path(src).unlink(missing_ok=True)

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        from botocore.exceptions import ClientError

        suffix = PurePosixPath(key).suffix  # ffmpeg guesses formats from the extension too
        fd, name = tempfile.mkstemp(prefix="beeldcoach-s3-", suffix=suffix)
        os.close(fd)
        path = Path(name)
        try:
            try:
                self.client.download_file(self.bucket, self._k(key), name, Config=self.transfer)
            except ClientError as exc:
                if self._missing(exc):
                    raise FileNotFoundError(key) from exc
                raise
            yield path
        finally:
            path.unlink(missing_ok=True)

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return cast(
                dict[str, Any], self.client.head_object(Bucket=self.bucket, Key=self._k(key))
            )
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(key)
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._k(key))

    def _pages(self, prefix: str) -> Iterator[list[str]]:
        """Full object keys, a page (at most 1,000) at a time."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            yield [item["Key"] for item in page.get("Contents", [])]

    def delete_prefix(self, prefix: str) -> int:
        if not check_key(prefix, prefix=True):
            raise ValueError("refusing to delete every key")
        deleted = 0
        # Deleting a page before asking for the next is safe: the continuation token is a
        # position in key order, not an offset.
        for keys in self._pages(prefix):
            if not keys:
                continue
            answer = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
            )
            errors = answer.get("Errors", [])
            if errors:
                raise OSError(f"S3 refused to delete {len(errors)} objects: {errors[0]}")
            deleted += len(keys)
        return deleted

    def list(self, prefix: str) -> list[str]:
        check_key(prefix, prefix=True)
        start = len(self.prefix)
        return sorted(k[start:] for keys in self._pages(prefix) for k in keys)

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._k(key))
        except ClientError as exc:
            if self._missing(exc):
                raise FileNotFoundError(key) from exc
            raise
        return cast(BinaryIO, answer["Body"])

    def local_file(self, key: str) -> Path | None:
        return None

    def presigned_url(
        self, key: str, expires_s: int, *, content_type: str | None = None
    ) -> str | None:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self._k(key)}
        if content_type:
            params["ResponseContentType"] = content_type
        return cast(
            str,
            self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=max(1, int(expires_s))
            ),
        )


_cache: dict[tuple[Any, ...], Storage] = {}
_cache_lock = threading.Lock()


def _cache_key(settings: Settings) -> tuple[Any, ...]:
    if settings.storage == "local":
        return ("local", str(Path(settings.media_dir).resolve()))
    return (
        settings.storage,
        settings.s3_bucket,
        settings.s3_prefix,
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.extra.get("s3_access_key_id"),
        settings.extra.get("s3_secret_access_key"),
    )


def make_storage(settings: Settings) -> Storage:
    if settings.storage == "local":
        return LocalStorage(settings.media_dir)
    if settings.storage == "s3":
        return S3Storage(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            # Not BEELDCOACH_* settings: boto3 reads AWS_ACCESS_KEY_ID and friends itself.
            # These overrides serve tests and embedders passing them to create_app().
            access_key_id=settings.extra.get("s3_access_key_id"),
            secret_access_key=settings.extra.get("s3_secret_access_key"),
        )
    raise ValueError(f"unknown storage {settings.storage!r}: expected local or s3")


def get_storage(settings: Settings | None = None) -> Storage:
    """The storage the settings name (the app's when None), made once per configuration: a
    boto3 client is costly to build and safe to share between threads."""
    if settings is None:
        settings = cast(Settings, current_app.config["BEELDCOACH"])
    key = _cache_key(settings)
    storage = _cache.get(key)
    if storage is None:
        with _cache_lock:
            storage = _cache.get(key)
            if storage is None:
                storage = _cache[key] = make_storage(settings)
    return storage
