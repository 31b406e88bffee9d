"""The docs stay true: every command and every option the CLI has is documented in docs/cli.md."""

from __future__ import annotations

import re
from pathlib import Path

import click

from porcelain.cli import cli

DOC = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()


def _sections() -> dict[str, str]:
    parts = re.split(r"^## ", DOC, flags=re.M)[1:]
    sections = {}
    for part in parts:
        title, _, body = part.partition("\n")
        for name in re.split(r",\s*", title.strip()):
            sections[name] = body
    return sections


def test_every_command_has_a_section_naming_each_of_its_options() -> None:
    sections = _sections()
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert name in sections, f"docs/cli.md has no section for '{name}'"
        for param in command.params:
            if isinstance(param, click.Option):
                longest = max(param.opts, key=len)
                if longest in ("--json", "--help"):
                    continue
                assert longest in sections[name], f"docs/cli.md '{name}' does not mention {longest}"


def test_documented_sections_are_real_commands() -> None:
    commands = set(cli.list_commands(click.Context(cli)))
    assert set(_sections()) <= commands


def test_readme_starts_with_the_two_setup_commands() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text().splitlines()
    assert readme[0].split()[:2] == ["make", "demo"] and readme[1].split()[:2] == ["make", "test"]
