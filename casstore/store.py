"""A store on disk: ``casstore.json`` plus objects, refs, reflogs and a staging area."""

from __future__ import annotations

import os
from pathlib import Path

from casstore import canonical
from casstore.atomic import fsync_dir, write_durable
from casstore.backend_local import LocalBackend
from casstore.clock import utc_now_iso
from casstore.defaults import STORE_DIRNAME
from casstore.errors import HINT_STORE, StoreFormatError, StoreNotFound, UsageError
from casstore.fileops import ops
from casstore.object_store import ObjectStore
from casstore.refs import RefStore

FORMAT_NAME = "casstore"
FORMAT_VERSION = 1
DEFAULT_DIRNAME = STORE_DIRNAME
CONFIG_NAME = "casstore.json"


class Store:
    """One store: many projects sharing one object store, so shared samples are kept once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = ObjectStore(root / "objects", root / "packs", root / "tmp")
        self.backend = LocalBackend(root)
        self.refs = RefStore(self.backend)
        self.tmp = root / "tmp"

    @classmethod
    def init(cls, path: Path) -> Store:
        """Create a new store at ``path`` (refuses a directory that holds anything else)."""
        path = path.absolute()
        if (path / CONFIG_NAME).exists():
            raise UsageError(f"{path} is already a casstore store")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise UsageError(f"cannot create a store at {path}: it exists and is not an empty directory")
        for sub in ("objects", "refs", "logs", "tmp", "packs"):
            ops().mkdir(path / sub, parents=True)
        config = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "hash": "sha256",
            "compression": "zstd",
            "created_at": utc_now_iso(),
        }
        write_durable(path / CONFIG_NAME, canonical.dumps(config))
        fsync_dir(path.parent)
        return cls(path)

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open the store at ``path``, checking its format."""
        config_path = path / CONFIG_NAME
        try:
            config = canonical.loads(config_path.read_bytes())
        except FileNotFoundError:
            raise StoreNotFound(f"{path} is not a casstore store (no {CONFIG_NAME}); run 'casstore init'") from None
        except ValueError as exc:
            raise StoreFormatError(f"{config_path}: not valid JSON: {exc}") from None
        if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
            raise StoreFormatError(f"{config_path}: not a casstore store configuration")
        if config.get("version") != FORMAT_VERSION or config.get("hash") != "sha256":
            raise StoreFormatError(
                f"{config_path}: store format version {config.get('version')!r} is not supported "
                f"(this casstore reads version {FORMAT_VERSION})"
            )
        return cls(path.absolute())

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
