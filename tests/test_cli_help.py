"""What a new user reads first: bare `casstore`, `--help`, `help revisions`, usage lines, option help."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from conftest import Cli
from porcelain.cli import cli as root_command

REV_COMMANDS = ["export", "checkout", "log", "show", "diff", "handoff", "branch", "tag"]


def _command_rows(help_text: str) -> list[str]:
    """The lines of the help's ``Commands:`` section."""
    section = help_text.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
    return section.splitlines()


def test_bare_casstore_prints_usage_not_an_error(cli: Cli) -> None:
    bare = cli(store=False)
    assert bare.code == 0
    assert bare.out.startswith("Usage: casstore") and "Commands:" in bare.out
    assert "error" not in bare.err and bare.err == ""
    group = cli("bundle", store=False)
    assert group.code == 0 and group.out.startswith("Usage: casstore bundle") and "error" not in group.err


def test_help_lists_every_command_with_its_whole_description(cli: Cli) -> None:
    shown = cli.ok("--help")
    rows = _command_rows(shown.out)
    names = sorted(root_command.list_commands(click.Context(root_command)))
    # One line per command: a description that wrapped or was cut would add lines or end in "...".
    assert [row.split()[0] for row in rows] == names
    for row in rows:
        description = row.split(None, 1)[1]
        assert not description.endswith("..."), row
        assert description.endswith("."), f"cut short: {row!r}"
    bundle_rows = _command_rows(cli.ok("bundle", "--help").out)
    assert all(row.rstrip().endswith(".") and not row.endswith("...") for row in bundle_rows), bundle_rows


def test_help_revisions_explains_the_revision_syntax(cli: Cli) -> None:
    topic = cli.ok("help", "revisions")
    for form in ("PROJECT/heads/", "PROJECT/tags/", "PROJECT/autosave/latest", "~N", "6 or more hex digits"):
        assert form in topic.out, form
    assert json.loads(cli.ok("help", "revisions", "--json").out)["topic"] == "revisions"
    assert cli.ok("help", "show").out.startswith("Usage: casstore show")
    unknown = cli("help", "nonsense")
    assert unknown.code == 2 and unknown.err.startswith("casstore: error: no command or help topic 'nonsense'")
    for name in REV_COMMANDS:
        assert "casstore help revisions" in cli.ok(name, "--help").out, name


def test_the_revision_forms_in_help_really_resolve(cli: Cli, demo_data: Path) -> None:
    """The forms `help revisions` teaches work as written (so the help cannot drift from the parser)."""
    first = json.loads(cli.ok("import", demo_data / "demo_bundle", "--json").out)["commit"]
    cli.ok("import", demo_data / "demo_bundle_rev2")
    cli.ok("tag", "v1", "demo-project~1")
    for rev in (
        first,
        first[:12],
        "demo-project~1",
        "demo-project~",
        "demo-project/tags/v1",
        "demo-project/heads/main~1",
    ):
        assert json.loads(cli.ok("show", rev, "--json").out)["commit"] == first, rev


def test_branch_and_tag_usage_shows_name_as_optional(cli: Cli) -> None:
    for name in ("branch", "tag"):
        usage = cli.ok(name, "--help").out.splitlines()[0]
        assert usage == f"Usage: casstore {name} [OPTIONS] [NAME [REV]]"
        assert cli.ok(name).code == 0  # and indeed runs without NAME


def test_every_option_has_help_text(cli: Cli) -> None:
    stress = cli.ok("stress-autosave", "--help").out
    for option in ("--iterations", "--keep"):
        line = next(line for line in stress.splitlines() if line.strip().startswith(option))
        text = re.sub(r"^\s*--[\w-]+\s+[A-Z ]+?\s{2,}", "", line)
        assert re.search(r"[a-z]{3,}", text.split("[default")[0]), f"{option} has no help: {line!r}"
    ctx = click.Context(root_command)
    for name in root_command.list_commands(ctx):
        command = root_command.get_command(ctx, name)
        commands = [command]
        if isinstance(command, click.Group):
            commands = [command.get_command(ctx, sub) for sub in command.list_commands(ctx)]
        for each in commands:
            for param in each.params:
                if isinstance(param, click.Option):
                    assert param.help, f"casstore {name} {param.opts[-1]} has no help text"


def test_handoff_out_with_json_writes_the_file(cli: Cli, demo_data: Path, tmp_path: Path) -> None:
    cli.ok("import", demo_data / "demo_bundle")
    summary = tmp_path / "stress.json"
    summary.write_text(cli.ok("stress-autosave", "--project-id", "demo-project", "--autosave-dir", tmp_path / "s").out)
    out = tmp_path / "HANDOFF.md"
    result = json.loads(cli.ok("handoff", "demo-project", "--stress-summary", summary, "--out", out, "--json").out)
    assert out.is_file(), "handoff --out F --json must write F (or refuse)"
    assert result["out"] == str(out) and result["project"] == "demo-project"
    markdown = out.read_text()
    assert markdown.startswith("#") and "choir_pad_soft.wav" in markdown
    assert markdown == cli.ok("handoff", "demo-project", "--stress-summary", summary).out
    assert json.loads(cli.ok("handoff", "demo-project", "--stress-summary", summary, "--json").out)["out"] is None
