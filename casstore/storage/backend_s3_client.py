"""The request layer of the S3 backend: one obstore client, its retries, and errors a user can read.

obstore is imported when a client is made, never by ``import casstore``. Credentials come
from the standard AWS environment variables (or a web-identity, container or instance
role, as obstore finds them); they are never stored or printed.
"""

from __future__ import annotations

import contextlib
import getpass
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from casstore.errors import CasstoreError, UsageError
from casstore.storage.backend import StoredFileMissing

if TYPE_CHECKING:
    from obstore import PutMode, PutResult
    from obstore.store import ClientConfig, RetryConfig, S3Config, S3Store

MTIME = "casstore-mtime"  # user metadata: when the backend's clock wrote or freshened a file
SINGLE_PUT_LIMIT = 16 << 20  # larger staged files go up in parts (create-only needs one PUT)
READ_BLOCK = 8 << 20  # one ranged GET of an open reader; objects up to this are read whole at open
CONFLICT_ATTEMPTS = 6  # tries of one request answered 409 (a concurrent conditional write in flight)

T = TypeVar("T")


class RemoteError(CasstoreError):
    """The remote refused or failed a request: unreachable, access denied, or a server error."""


class UnsafeRemote(RemoteError):
    """The server ignores conditional writes, so concurrent updates of a ref on it could be lost."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """Split ``s3://bucket/prefix`` into bucket and prefix (no leading or trailing slash)."""
    if not url.startswith("s3://"):
        raise UsageError(f"{url}: not an S3 URL (expected s3://BUCKET/PREFIX)")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise UsageError(f"{url}: {bucket!r} is not an S3 bucket name (3-63 lowercase letters, digits, '.', '-')")
    return bucket, prefix.strip("/")


def _status(exc: BaseException) -> int | None:
    """Return the HTTP status obstore reports in ``exc``'s message, if any."""
    found = re.search(r"status code: (\d{3})", str(exc))
    return int(found.group(1)) if found else None


def _summary(exc: BaseException) -> str:
    """Say in one short line what went wrong: the server's status and S3 error code, or the transport's error."""
    text = " ".join(str(exc).split())
    status = re.search(r"status code: (\d{3}[^:<]*)", text)
    if status:
        code = re.search(r"<Code>([^<]{1,60})</Code>", text)
        return f"the server answered {status.group(1).strip()}" + (f" ({code.group(1)})" if code else "")
    retries = re.search(r"after (\d+) retries", text)
    first_line = str(exc).splitlines()[0] if str(exc).strip() else ""
    detail = first_line.rsplit(" - ", 1)[-1].strip()[:200] or type(exc).__name__
    return detail + (f" (after {retries.group(1)} retries)" if retries else "")


def _default_by() -> str:
    user = "unknown"
    with contextlib.suppress(Exception):  # no login name in some containers
        user = getpass.getuser()
    return f"{user}@{socket.gethostname()}"


class S3Client:
    """One bucket prefix reached through obstore: conditional PUTs, GETs, retries, one-line errors."""

    def __init__(
        self,
        url: str,
        endpoint: str | None = None,
        region: str | None = None,
        clock: Callable[[], float] = time.time,
        *,
        by: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry_backoff: float = 0.1,
        single_put_limit: int = SINGLE_PUT_LIMIT,
        read_block: int = READ_BLOCK,
    ) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        self.url = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.clock = clock
        self.by = by or _default_by()
        self.sleep = sleep  # the pause between retries of a 409; tests pass one that does not wait
        self.single_put_limit = single_put_limit
        self.read_block = read_block
        self._seen: dict[str, tuple[dict[str, Any] | None, str | None]] = {}  # ref → body and ETag last read
        self._seen_lock = threading.Lock()
        try:
            from obstore.store import S3Store
        except ImportError:
            raise UsageError("S3 remotes need obstore: pip install 'casstore[remote]'") from None
        config: S3Config = {"conditional_put": "etag"}  # If-Match / If-None-Match, whatever AWS_CONDITIONAL_PUT says
        if endpoint:  # both keys: AWS_ENDPOINT_URL_S3 in the environment would otherwise win over endpoint
            config["endpoint"] = config["aws_endpoint_url_s3"] = endpoint.rstrip("/")
        if region:
            config["region"] = region
        client: ClientConfig = {"connect_timeout": "10s", "timeout": "120s"}
        if endpoint and endpoint.startswith("http://"):
            client["allow_http"] = True
        # obstore retries 5xx answers and dropped connections itself, with exponential backoff
        # and jitter; bounded here in count and in time.
        retry: RetryConfig = {
            "max_retries": 4,
            "retry_timeout": timedelta(seconds=60),
            "backoff": {"init_backoff": timedelta(seconds=retry_backoff), "max_backoff": timedelta(seconds=5)},
        }
        self._store: S3Store = S3Store(
            self.bucket, prefix=self.prefix or None, config=config, client_options=client, retry_config=retry
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # Requests --------------------------------------------------------------------------------

    def _pause(self, attempt: int) -> None:
        """Sleep a random time up to an exponentially growing bound (full jitter)."""
        self.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))

    def _call(self, what: str, key: str, action: Callable[[], T]) -> T:
        """Run one request: retry 409 answers with jitter; pass precondition answers on; name the rest.

        Not found is StoredFileMissing for a read or a delete; for a write or a listing it can
        only mean the bucket is missing.
        """
        from obstore import exceptions as obs_errors

        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                return action()
            except FileNotFoundError:
                if what in ("get", "delete"):
                    raise StoredFileMissing(key) from None
                raise RemoteError(
                    f"{self.url}: {what} {key} failed: not found (is there a bucket {self.bucket}?)"
                ) from None
            except obs_errors.BaseError as exc:
                status = _status(exc)
                if status == 409 and attempt + 1 < CONFLICT_ATTEMPTS:
                    self._pause(attempt)
                    continue
                if status != 409 and isinstance(exc, obs_errors.AlreadyExistsError | obs_errors.PreconditionError):
                    raise
                denied = obs_errors.PermissionDeniedError | obs_errors.UnauthenticatedError
                if isinstance(exc, denied) or status in (401, 403):
                    raise RemoteError(
                        f"{self.url}: access denied ({what} {key}); check the AWS credentials in the environment "
                        "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)"
                    ) from None
                hint = f" (is there a bucket {self.bucket}?)" if status == 404 else ""
                raise RemoteError(f"{self.url}: {what} {key} failed: {_summary(exc)}{hint}") from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _put(self, key: str, content: bytes, mode: PutMode | None = None) -> PutResult:
        import obstore

        stamp = {MTIME: repr(self.clock())}
        return self._call(
            "put",
            key,
            lambda: obstore.put(self._store, key, content, mode=mode, attributes=stamp, use_multipart=False),
        )

    def put_parts(self, key: str, stream: BinaryIO) -> None:
        """Upload ``stream`` to ``key`` in parts, replacing what is there (for files past one PUT's limit)."""
        import obstore

        stamp = {MTIME: repr(self.clock())}
        self._call(
            "put",
            key,
            lambda: obstore.put(
                self._store, key, stream, attributes=stamp, use_multipart=True, chunk_size=8 << 20, max_concurrency=4
            ),
        )

    def _get(self, key: str, options: dict[str, Any] | None = None) -> Any:
        """Return obstore's GetResult for ``key`` (raises StoredFileMissing)."""
        import obstore

        return self._call("get", key, lambda: obstore.get(self._store, key, options=options))  # type: ignore[arg-type]

    def get_checked(self, key: str, start: int, end: int, etag: str) -> memoryview:
        """Return bytes ``[start, end)`` of ``key`` if it still has ``etag`` (raises StoredFileMissing)."""
        from obstore.exceptions import PreconditionError

        try:
            result = self._get(key, {"range": (start, end), "if_match": etag})
        except PreconditionError:  # replaced since the reader opened it
            raise StoredFileMissing(key) from None
        return memoryview(result.bytes())
