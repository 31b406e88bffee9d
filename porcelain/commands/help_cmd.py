"""``casstore help [COMMAND|TOPIC]``: a command's help, or a topic such as the revision syntax."""

from __future__ import annotations

import click

from ..output import emit_json
from .common import command

REVISIONS = """\
Revisions: how REV, OLD and NEW name a commit

  ID                         a full commit id (64 hex digits), or a unique prefix
                             of 6 or more hex digits: 216c00a669fe
  PROJECT                    the head of the project's main branch: demo-project
  PROJECT/heads/BRANCH       a branch: demo-project/heads/main
  PROJECT/tags/TAG           a tag: demo-project/tags/v1
  PROJECT/autosave/latest    the project's newest autosave
  PROJECT/autosave/NAME      one autosave, named as 'casstore recover' lists it
  PROJECT/checkpoints/NAME   one checkpoint, named as 'casstore recover' lists it
  REV~N                      N first parents back from REV: demo-project~1 is the
                             revision before the head; REV~ is REV~1

'casstore diff' also takes a bundle directory or a .zip wherever it takes a revision
(a path that exists is read as a bundle). 'casstore refs' lists every named revision.
"""

TOPICS = {"revisions": REVISIONS}


@command("help", short_help="Explain a command, or a topic: revisions.")
@click.argument("subject", metavar="[COMMAND|TOPIC]", required=False)
@click.pass_context
def help_command(ctx: click.Context, subject: str | None, as_json: bool) -> None:
    """Show the help of COMMAND, or explain TOPIC (revisions); without either, the command list."""
    root = ctx.find_root()
    if subject in TOPICS:
        if as_json:
            emit_json({"topic": subject, "text": TOPICS[subject]})
        else:
            click.echo(TOPICS[subject], nl=False)
        return
    if subject is not None:
        group = root.command
        found = group.get_command(root, subject) if isinstance(group, click.Group) else None
        if found is None:
            known = ", ".join(sorted(TOPICS))
            raise click.UsageError(f"no command or help topic {subject!r} (topics: {known})")
        with click.Context(found, info_name=subject, parent=root) as sub:
            text = found.get_help(sub)
    else:
        text = root.get_help()
    if as_json:
        emit_json({"topic": subject, "text": text + "\n"})
    else:
        click.echo(text)
