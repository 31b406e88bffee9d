"""Remotes: named S3 bucket prefixes in the store's configuration, opened as a backend with refs and packs.

A store's ``casstore.json`` lists its remotes as ``"remotes": {name: {url, endpoint,
region}}``; credentials are never stored there (they come from the standard AWS chain).

A remote holds what docs/remotes.md describes: ``casstore.json`` (create-only), one
immutable pack and index per push under ``packs/``, and refs ``<project>/<namespace>/<name>``
moved by compare-and-swap. :mod:`casstore.remote.push` and :mod:`casstore.remote.fetch`
move history in and out.

Remote-tracking refs follow git's ``refs/remotes/<remote>/<branch>``, fitted to the
store's three-part ref names: the remote's ``P/heads/B`` is tracked locally as
``P/remotes/<remote>.<branch>`` (remote names have no ``.``, so the first ``.`` splits
them). They move only when a fetch has verified everything they reach.
"""

from __future__ import annotations

import builtins
import contextlib
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from casstore.clock import utc_now_iso
from casstore.errors import CasstoreError, StoreFormatError, UsageError
from casstore.storage import canonical
from casstore.storage.backend import Backend, StoredFileMissing
from casstore.storage.object_store import ObjectStore
from casstore.storage.packs import DIGEST_SIZE, Pack, index_key, list_packs, pack_key
from casstore.storage.parallel import parallel_map
from casstore.storage.refs import RefStore, check_component, split_ref
from casstore.storage.store import CONFIG_NAME, Store, check_config

# A cached index is the pack's size (u64), then the index's bytes, digest included.
_SIZE = struct.Struct(">Q")
REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
DEFAULT_REMOTE = "origin"
REMOTE_FORMAT = "casstore-remote"
REMOTE_VERSION = 1
# What a push sends and a fetch reads: checkpoints stay on the machine that made them (they
# guard one working directory), remote-tracking refs describe other remotes.
SHARED_NAMESPACES = ("heads", "tags", "autosave")
# Remote gc's marks: ``marks/<pack>.json`` says the pack was unreachable when marked; a
# push never relies on a marked pack (docs/remotes.md, "Remote gc").
MARKS_PREFIX = "marks/"


def mark_key(pack: str) -> str:
    """Return the key of remote gc's mark on pack ``pack``."""
    return f"{MARKS_PREFIX}{pack}.json"


class FetchFirst(CasstoreError):
    """The remote has history this store lacks: a push would drop it (git's "fetch first")."""

    exit_code = 1


class Diverged(CasstoreError):
    """A local branch and its remote counterpart each have commits the other lacks: no fast-forward."""

    exit_code = 1


class RemoteNotFound(UsageError):
    """No remote of that name is configured in the store."""


@dataclass(frozen=True)
class RemoteSpec:
    """A configured remote: its name, ``s3://bucket/prefix`` URL and, optionally, endpoint and region."""

    name: str
    url: str
    endpoint: str | None = None
    region: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the remote as ``remote list --json`` prints it (and as the config stores it, with the name)."""
        return {"name": self.name, "url": self.url, "endpoint": self.endpoint, "region": self.region}


# Opens a remote's backend; tests pass one that makes an in-memory or fault-injecting backend.
Connector = Callable[[RemoteSpec], Backend]


def connect_s3(spec: RemoteSpec) -> Backend:
    """Open the S3 backend of ``spec`` (credentials from the standard AWS environment)."""
    from casstore.storage.backend_s3 import S3Backend

    return S3Backend(spec.url, spec.endpoint, spec.region)


def check_server(backend: Backend) -> None:
    """Refuse a server that ignores conditional writes (the S3 probe); other backends honour them by construction."""
    from casstore.storage.backend_s3 import S3Backend, probe

    if isinstance(backend, S3Backend):
        probe(backend)


def check_remote_name(name: str) -> str:
    """Return ``name`` if it can name a remote (letters, digits, ``_`` and ``-``; no ``.``), else raise."""
    if not REMOTE_NAME.fullmatch(name):
        raise UsageError(
            f"invalid remote name {name!r}: use letters, digits, '_' and '-', starting with a letter or digit"
        )
    return name


def normal_url(url: str) -> str:
    """Return ``url`` as ``s3://bucket/prefix`` without a trailing slash (raises UsageError when it is not one)."""
    from casstore.storage.backend_s3_client import parse_s3_url

    bucket, prefix = parse_s3_url(url)
    return f"s3://{bucket}/{prefix}".rstrip("/")


def list_remotes(store: Store) -> list[RemoteSpec]:
    """Return the store's remotes, by name."""
    found = store.config().get("remotes") or {}
    if not isinstance(found, dict):
        raise StoreFormatError(f"{store.root / CONFIG_NAME}: 'remotes' is not an object")
    specs = []
    for name, entry in sorted(found.items()):
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise StoreFormatError(f"{store.root / CONFIG_NAME}: remote {name!r} has no url")
        specs.append(RemoteSpec(name, entry["url"], entry.get("endpoint"), entry.get("region")))
    return specs


def get_remote(store: Store, name: str | None = None) -> RemoteSpec:
    """Return remote ``name``; without a name, ``origin`` or else the store's only remote."""
    remotes = {spec.name: spec for spec in list_remotes(store)}
    if name is None:
        if DEFAULT_REMOTE in remotes:
            return remotes[DEFAULT_REMOTE]
        if len(remotes) == 1:
            return next(iter(remotes.values()))
        known = ", ".join(remotes) or "none"
        raise RemoteNotFound(f"name the remote to use (this store has: {known})")
    if name not in remotes:
        known = ", ".join(remotes) or "none"
        raise RemoteNotFound(f"no remote named {name!r} in this store (it has: {known})")
    return remotes[name]


def add_remote(
    store: Store,
    name: str,
    url: str,
    endpoint: str | None = None,
    region: str | None = None,
    connect: Connector | None = None,
) -> RemoteSpec:
    """Probe the server, then record remote ``name`` in the store's configuration (never any credential)."""
    spec = RemoteSpec(check_remote_name(name), normal_url(url), endpoint.rstrip("/") if endpoint else None, region)
    if any(known.name == name for known in list_remotes(store)):
        raise UsageError(f"a remote named {name!r} already exists in this store")
    check_server((connect or connect_s3)(spec))

    def record(config: dict[str, Any]) -> None:
        remotes = config.setdefault("remotes", {})
        if name in remotes:  # added by a concurrent command since the check above
            raise UsageError(f"a remote named {name!r} already exists in this store")
        remotes[name] = {"url": spec.url, "endpoint": spec.endpoint, "region": spec.region}

    store.update_config(record)
    return spec


def remove_remote(store: Store, name: str, when: str | None = None) -> list[str]:
    """Forget remote ``name`` and delete its remote-tracking refs (as git does); return the refs deleted."""
    get_remote(store, name)
    when = when or utc_now_iso()

    def forget(config: dict[str, Any]) -> None:
        config.get("remotes", {}).pop(name, None)

    store.update_config(forget)
    deleted = []
    for ref, oid in store.refs.list().items():
        _project, namespace, short = split_ref(ref)
        if namespace == "remotes" and short.startswith(f"{name}."):
            store.refs.compare_and_swap(ref, oid, None, f"remote remove {name}", when)
            deleted.append(ref)
    return deleted


def tracking_ref(project: str, remote: str, branch: str) -> str:
    """Return the local ref that tracks ``branch`` of ``project`` on ``remote``: ``P/remotes/<remote>.<branch>``."""
    check_component(branch, "branch name")
    short = f"{remote}.{branch}"
    return f"{project}/remotes/{check_component(short, 'remote-tracking name')}"


def tracked_branch(ref: str, remote: str) -> tuple[str, str] | None:
    """Return ``(project, branch)`` if ``ref`` tracks a branch of ``remote``, else None."""
    project, namespace, short = split_ref(ref)
    if namespace != "remotes" or not short.startswith(f"{remote}."):
        return None
    return project, short[len(remote) + 1 :]


class Remote:
    """One opened remote: its backend, its refs (compare-and-swap on the server) and its packs.

    With ``cache`` (the local store's backend), pack indexes are kept there under
    ``remotes/<name>/index-cache/``: a pack's name is the BLAKE3 of its immutable bytes, so
    a push or fetch reads only the indexes of packs it has not seen before.
    """

    def __init__(
        self, name: str, url: str, backend: Backend, cache: Backend | None = None, local: ObjectStore | None = None
    ) -> None:
        self.name = name
        self.url = url
        self.backend = backend
        self.cache = cache
        self.local = local  # the local store's objects: a walk over the remote reads commits and trees there
        self.refs = RefStore(backend)
        self.objects = ObjectStore(backend)

    def initialized(self) -> bool:
        """Tell whether something was pushed here (its ``casstore.json`` exists and is casstore's)."""
        try:
            raw = self.backend.get(CONFIG_NAME)
        except StoredFileMissing:
            return False
        self._check_format(raw)
        return True

    def _check_format(self, raw: bytes) -> None:
        check_config(raw, f"{self.url}/{CONFIG_NAME}", REMOTE_FORMAT, REMOTE_VERSION, "a casstore remote", "remote")

    def initialize(self, when: str) -> None:
        """Write the remote's ``casstore.json`` create-only, or check the one there."""
        config = {"format": REMOTE_FORMAT, "version": REMOTE_VERSION, "hash": "sha256", "created_at": when}
        if not self.backend.put_if_absent(CONFIG_NAME, canonical.dumps(config)):
            self._check_format(self.backend.get(CONFIG_NAME))

    def shared_refs(self) -> dict[str, str]:
        """Return ``{ref: commit}`` of the remote's heads, tags and autosaves."""
        return {ref: oid for ref, oid in self.refs.list().items() if _namespace(ref) in SHARED_NAMESPACES}

    def pack_names(self) -> builtins.list[str]:
        """Return the name of every complete pack on the remote (a pack without its index is unfinished)."""
        return list_packs(self.backend)

    def marked_packs(self) -> set[str]:
        """Return the names of the packs remote gc marked as unreachable (one listing)."""
        keys = self.backend.list(MARKS_PREFIX)
        return {key[len(MARKS_PREFIX) : -len(".json")] for key in keys if key.endswith(".json")}

    def load_packs(self, names: builtins.list[str]) -> builtins.list[Pack]:
        """Load the indexes of packs ``names``: from the cache, else two requests each, several in flight."""
        return list(parallel_map(self._load_pack, names, io_bound=True))

    def packs(self, names: builtins.list[str] | None = None) -> builtins.list[Pack]:
        """Load the index of every pack on the remote (or of ``names``, listed already); forget cached gone ones."""
        names = self.pack_names() if names is None else names
        if self.cache is not None:
            keep = {self._cache_key(name) for name in names}
            for key in self.cache.list(self._cache_prefix()):
                if key not in keep:  # deleted by a remote gc
                    self.cache.delete(key)
        return self.load_packs(names)

    def _cache_prefix(self) -> str:
        return f"remotes/{self.name}/index-cache/"

    def _cache_key(self, name: str) -> str:
        return f"{self._cache_prefix()}{name}.idx"

    def _load_pack(self, name: str) -> Pack:
        if self.cache is None:
            return Pack.load(self.backend, name)
        key = self._cache_key(name)
        with contextlib.suppress(StoredFileMissing):
            cached = self.cache.get(key)
            if len(cached) > _SIZE.size and index_digest_matches(cached[_SIZE.size :]):
                (size,) = _SIZE.unpack_from(cached)
                return Pack.parse(self.backend, name, cached[_SIZE.size :], size)
        raw, size = self.backend.get(index_key(name)), self.backend.stat(pack_key(name)).size
        pack = Pack.parse(self.backend, name, raw, size)
        if index_digest_matches(raw):  # a damaged index is never cached: fetch reports it
            self.cache.put(key, _SIZE.pack(size) + raw)
        return pack


def index_digest_matches(raw: bytes) -> bool:
    """Tell whether a pack index's BLAKE3 trailer matches its bytes."""
    from blake3 import blake3

    return len(raw) >= DIGEST_SIZE and blake3(raw[:-DIGEST_SIZE], max_threads=1).digest() == raw[-DIGEST_SIZE:]


def _namespace(ref: str) -> str:
    parts = ref.split("/")
    return parts[1] if len(parts) == 3 else ""


def open_remote(store: Store, name: str | None = None, connect: Connector | None = None) -> Remote:
    """Open remote ``name`` of ``store`` (default: ``origin`` or the only one)."""
    spec = get_remote(store, name)
    return Remote(spec.name, spec.url, (connect or connect_s3)(spec), cache=store.backend, local=store.objects)


def ls_remote(remote: Remote) -> dict[str, str]:
    """Return ``{ref: commit}`` of every ref on the remote (an empty remote has none)."""
    if not remote.initialized():
        return {}
    return remote.refs.list()
