"""One error tree for casstore; every class carries the exit code the CLI uses."""

from __future__ import annotations


class CasstoreError(Exception):
    """Base of every error casstore raises on purpose; ``str()`` is one user-facing line.

    ``hint`` names, in no front end's words, the choice that gets past the error (``"force"``,
    ``"project"``, ``"store"``): the message itself names no command-line flag because the
    viewer shows it too, and each front end words the hint its own way.
    """

    exit_code = 2
    hint: str | None = None

    def __init__(self, *args: object, hint: str | None = None) -> None:
        super().__init__(*args)
        if hint is not None:
            self.hint = hint


# The hints front ends know how to word (the command line: "use --force", "use --project", ...).
HINT_FORCE = "force"
HINT_PROJECT = "project"
HINT_STORE = "store"


class UsageError(CasstoreError):
    """The user asked for something that cannot be done as asked."""


class StoreNotFound(CasstoreError):
    """No store was found where one was expected."""


class StoreFormatError(CasstoreError):
    """A store exists but its format is unknown or damaged."""


class BundleError(CasstoreError):
    """A bundle breaks a rule; the message names the file, the entry and the rule."""


class ManifestError(BundleError):
    """``project_manifest.json`` does not follow schema 1.x."""


class PathRuleError(BundleError):
    """A path from a manifest, a directory or a zip breaks a path rule."""


class RevisionError(CasstoreError):
    """A revision cannot be resolved (unknown, ambiguous or malformed)."""


class RefError(CasstoreError):
    """A ref name is invalid or a ref could not be moved."""


class RefConflict(RefError):
    """A compare-and-swap on a ref failed because another writer moved it first."""


class RefLocked(RefError):
    """A ref is locked by another live process."""


class ObjectError(CasstoreError):
    """Base for problems with a stored object."""


class ObjectMissing(ObjectError):
    """An object that something refers to is not in the store."""

    def __init__(self, oid: str, detail: str = "") -> None:
        self.oid = oid
        super().__init__(f"object {oid} is missing from the store{detail}")


class CorruptObject(ObjectError):
    """An object's bytes do not decode or do not hash to its id."""

    def __init__(self, oid: str, detail: str) -> None:
        self.oid = oid
        super().__init__(f"object {oid} is corrupt: {detail}")


class DestinationError(CasstoreError):
    """An export or checkout destination cannot be written as asked."""
