"""A store on disk: ``casstore.json`` plus objects, refs, reflogs and a staging area."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from casstore.clock import utc_now_iso
from casstore.defaults import STORE_DIRNAME
from casstore.errors import HINT_STORE, StoreFormatError, StoreNotFound, UsageError
from casstore.storage import canonical
from casstore.storage.backend import Backend, StoredFileMissing
from casstore.storage.backend_local import LocalBackend
from casstore.storage.object_store import ObjectStore
from casstore.storage.refs import RefStore

FORMAT_NAME = "casstore"
FORMAT_VERSION = 1
DEFAULT_DIRNAME = STORE_DIRNAME
CONFIG_NAME = "casstore.json"
CONFIG_LEASE_SECONDS = 30.0  # a config edit takes milliseconds; a killed editor's lease expires soon


def check_config(raw: bytes, where: str, format_name: str, version: int, what: str, kind: str) -> dict[str, Any]:
    """Parse a ``casstore.json`` (a store's or a remote's) and refuse another format, version or hash."""
    try:
        config = canonical.loads(raw)
    except ValueError as exc:
        raise StoreFormatError(f"{where}: not valid JSON: {exc}") from None
    if not isinstance(config, dict) or config.get("format") != format_name:
        raise StoreFormatError(f"{where}: not {what}")
    if config.get("version") != version or config.get("hash") != "sha256":
        raise StoreFormatError(
            f"{where}: {kind} format version {config.get('version')!r} is not supported "
            f"(this casstore reads version {version})"
        )
    return config


class Store:
    """One store: many projects sharing one object store, so shared samples are kept once.

    Every byte of the store is reached through :attr:`backend`; ``root`` only names it.
    """

    def __init__(self, root: Path, backend: Backend | None = None) -> None:
        self.root = root
        self.backend: Backend = backend if backend is not None else LocalBackend(root)
        self.objects = ObjectStore(self.backend)
        self.refs = RefStore(self.backend)

    @classmethod
    def init(cls, path: Path) -> Store:
        """Create a new store at ``path`` (refuses a directory that holds anything else)."""
        path = path.absolute()
        backend = LocalBackend(path)
        if backend.has(CONFIG_NAME):
            raise UsageError(f"{path} is already a casstore store")
        backend.create_root(("objects", "refs", "logs", "tmp", "packs"))
        config = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "hash": "sha256",
            "compression": "zstd",
            "created_at": utc_now_iso(),
        }
        if not backend.put_if_absent(CONFIG_NAME, canonical.dumps(config)):
            raise UsageError(f"{path} is already a casstore store")  # another init won the race
        return cls(path, backend)

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open the store at ``path``, checking its format."""
        config_path = path / CONFIG_NAME
        backend = LocalBackend(path.absolute())
        try:
            raw = backend.get(CONFIG_NAME)
        except StoredFileMissing:
            raise StoreNotFound(f"{path} is not a casstore store (no {CONFIG_NAME}); run 'casstore init'") from None
        check_config(raw, str(config_path), FORMAT_NAME, FORMAT_VERSION, "a casstore store configuration", "store")
        return cls(path.absolute(), backend)

    @classmethod
    def locate(cls, explicit: str | os.PathLike[str] | None = None, start: Path | None = None) -> Store:
        """Find the store: ``explicit`` (``--store``), else ``CASSTORE_DIR``, else upward like git."""
        if explicit:
            return cls.open(Path(explicit))
        env = os.environ.get("CASSTORE_DIR")
        if env:
            return cls.open(Path(env))
        here = (start or Path.cwd()).absolute()
        for directory in (here, *here.parents):
            candidate = directory / DEFAULT_DIRNAME
            if (candidate / CONFIG_NAME).is_file():
                return cls.open(candidate)
        raise StoreNotFound(f"no casstore store found in {here} or any parent; create one or name one", hint=HINT_STORE)

    def config(self) -> dict[str, Any]:
        """Return the store's configuration (``casstore.json``) as a dict."""
        config = canonical.loads(self.backend.get(CONFIG_NAME))
        if not isinstance(config, dict):
            raise StoreFormatError(f"{self.root / CONFIG_NAME}: not a casstore store configuration")
        return config

    def update_config(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply ``change`` to the configuration and write it durably, under the store's ``config`` lease.

        The lease makes two concurrent edits (two ``remote add``) apply one after the other
        instead of the second overwriting the first.
        """
        lease = self.backend.acquire("config", CONFIG_LEASE_SECONDS, f"config edit (pid {os.getpid()})")
        try:
            config = self.config()
            change(config)
            self.backend.put(CONFIG_NAME, canonical.dumps(config))
        finally:
            lease.release()
        return config
