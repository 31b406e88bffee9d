"""Revision grammar and resolution: ids, prefixes, project refs and ``~N`` ancestry.

Forms: a full id, a unique prefix of at least 6 hex digits, ``PROJECT`` (its
``main`` head), ``PROJECT/heads/B``, ``PROJECT/tags/T``, ``PROJECT/autosave/latest``,
``PROJECT/NAMESPACE/NAME``; each may end in ``~N`` (N-th first parent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from casstore.errors import RefError, RevisionError
from casstore.history.commits import is_commit, read_commit
from casstore.storage.ids import MIN_PREFIX, is_id_prefix, is_object_id
from casstore.storage.refs import DEFAULT_BRANCH, NAMESPACES, check_component
from casstore.storage.store import Store

# ~N takes at most 18 digits: no history is that long, and Python refuses to convert past 4,300.
MAX_STEP_DIGITS = 18
_ANCESTRY = re.compile(r"^(?P<base>.+?)(?P<steps>(?:~\d*)*)$")


@dataclass(frozen=True)
class RevSpec:
    """A parsed revision: ``base`` (id, prefix or ref shorthand) and how many first parents back."""

    base: str
    back: int = 0

    def __str__(self) -> str:
        return self.base + (f"~{self.back}" if self.back else "")


def parse_revision(text: str) -> RevSpec:
    """Parse ``text`` into a RevSpec, refusing malformed input with a RevisionError."""
    match = _ANCESTRY.match(text.strip()) if text and text.strip() else None
    if not match:
        raise RevisionError(f"invalid revision {text!r}")
    back = 0
    for step in match.group("steps").split("~")[1:]:
        if len(step) > MAX_STEP_DIGITS:
            raise RevisionError(
                f"invalid revision {text[:40]!r}…: ~{step[:12]}… goes back more generations than any history"
            )
        back += int(step) if step else 1
    base = match.group("base")
    parts = base.split("/")
    try:
        if len(parts) == 1:
            if not (is_id_prefix(base) or is_object_id(base)):
                check_component(base, "project id")
        elif len(parts) == 3 and parts[1] in NAMESPACES:
            check_component(parts[0], "project id")
            check_component(parts[2], f"{parts[1]} name")
        else:
            raise RevisionError(
                f"invalid revision {text!r}: expected an id, PROJECT or PROJECT/heads|tags|autosave|checkpoints/NAME"
            )
    except RefError as exc:
        raise RevisionError(f"invalid revision {text!r}: {exc}") from None
    return RevSpec(base, back)


def resolve(store: Store, text: str) -> str:
    """Resolve a revision to a commit id, or raise RevisionError naming what failed."""
    spec = parse_revision(text)
    oid = _resolve_base(store, spec.base, text)
    for step in range(spec.back):
        commit = read_commit(store, oid)
        if not commit.parents:
            raise RevisionError(f"revision {text!r}: history has only {step + 1} commit(s)")
        oid = commit.parents[0]
    return oid


def _resolve_base(store: Store, base: str, text: str) -> str:
    parts = base.split("/")
    if len(parts) == 3:
        project, namespace, name = parts
        if namespace == "autosave" and name == "latest":
            from casstore.history.autosaves import newest_autosave

            newest = newest_autosave(store, project)
            if newest is None:
                raise RevisionError(f"unknown revision {text!r}: project {project!r} has no autosaves")
            return newest[1]
        oid = store.refs.read(base)
        if oid is None:
            raise RevisionError(f"unknown revision {text!r}: no ref {base}")
        return oid
    # Refs win over hex ids, as in git: a project may be called "cafe42".
    head = store.refs.read(f"{base}/heads/{DEFAULT_BRANCH}")
    if head is not None:
        return head
    if is_object_id(base) and store.objects.has(base):
        if not is_commit(store, base):
            raise RevisionError(f"revision {text!r} names an object that is not a commit")
        return base
    if is_id_prefix(base) and len(base) >= MIN_PREFIX:
        candidates = store.objects.ids_with_prefix(base)
        commits = [oid for oid in candidates if is_commit(store, oid)]
        if len(commits) == 1:
            return commits[0]
        if len(commits) > 1:
            listed = ", ".join(c[:12] for c in commits[:5])
            raise RevisionError(f"ambiguous revision {text!r}: matches commits {listed}")
    known = store.refs.projects()
    hint = f" (projects: {', '.join(known)})" if known else " (the store has no projects yet)"
    raise RevisionError(f"unknown revision {text!r}{hint}")
