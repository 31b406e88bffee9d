"""The docs stay true: every command and every option the CLI has is documented in docs/cli.md."""

from __future__ import annotations

import re
from pathlib import Path

import click

from porcelain.cli import cli

DOC = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()


def _sections() -> dict[str, str]:
    """Map each command named in a '## ' heading (outside code blocks) to its section's text."""
    sections: dict[str, str] = {}
    names: list[str] = []
    in_code = False
    for line in DOC.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("## "):
            names = re.split(r",\s*", line[3:].strip())
            for name in names:
                sections[name] = ""
            continue
        for name in names:
            sections[name] += line + "\n"
    return sections


def test_every_command_has_a_section_naming_each_of_its_options() -> None:
    sections = _sections()
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert name in sections, f"docs/cli.md has no section for '{name}'"
        params = list(command.params)
        if isinstance(command, click.Group):
            for sub_name in command.list_commands(ctx):
                assert f"{name} {sub_name}" in sections[name], f"docs/cli.md '{name}' does not show '{sub_name}'"
                params += command.get_command(ctx, sub_name).params
        for param in params:
            if isinstance(param, click.Option):
                longest = max(param.opts, key=len)
                if longest in ("--json", "--help"):
                    continue
                assert longest in sections[name], f"docs/cli.md '{name}' does not mention {longest}"


def test_documented_sections_are_real_commands() -> None:
    commands = set(cli.list_commands(click.Context(cli)))
    assert set(_sections()) <= commands
