"""The root ``casstore`` command and the one place that maps errors to exit codes."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERNAL = 3


# Which module defines each command (as ``<name>_command``): a run imports only the module of
# the command it runs (``--help`` imports them all), so start-up does not pay for nineteen commands.
COMMAND_MODULES = {
    "init": "init_cmd",
    "import": "import_cmd",
    "export": "export_cmd",
    "checkout": "worktree_cmd",
    "status": "worktree_cmd",
    "log": "log_cmd",
    "show": "log_cmd",
    "diff": "diff_cmd",
    "autosave": "autosave_cmd",
    "recover": "autosave_cmd",
    "stress-autosave": "autosave_cmd",
    "crash-report": "autosave_cmd",
    "bundle": "bundle_cmd",
    "handoff": "handoff_cmd",
    "refs": "refs_cmd",
    "branch": "refs_cmd",
    "tag": "refs_cmd",
    "fsck": "fsck_cmd",
    "gc": "gc_cmd",
    "repack": "repack_cmd",
    "remote": "remote_cmd",
    "push": "remote_cmd",
    "fetch": "remote_cmd",
    "pull": "remote_cmd",
    "clone": "remote_cmd",
    "ls-remote": "remote_cmd",
    "help": "help_cmd",
}


class CasstoreGroup(click.Group):
    """A click group whose errors become one ``casstore: error: …`` line and the contract's exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: D102 - click's hook
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: D102 - click's hook
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            module = importlib.import_module(f"{__package__}.commands.{COMMAND_MODULES[cmd_name]}")
            self.add_command(getattr(module, f"{cmd_name.replace('-', '_')}_command"), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their whole one-line descriptions (click would cut them to fit)."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def main(self, *args: Any, **kwargs: Any) -> Any:  # noqa: D102 - click's entry point
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.NoArgsIsHelpError as exc:
            # A bare `casstore` (or `casstore bundle`) asks what there is: help, not an error.
            click.echo(exc.ctx.get_help())
            sys.exit(EXIT_OK)
        except click.UsageError as exc:
            path = exc.ctx.command_path if exc.ctx else "casstore"
            _fail(f"{exc.format_message()} (try '{path} --help')", EXIT_USAGE)
        except click.ClickException as exc:
            _fail(exc.format_message(), EXIT_USAGE)
        except click.Abort:
            _fail("interrupted", 130)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:
            sys.exit(EXIT_OK)
        except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
            _fail_from_exception(exc)
        sys.exit(result if isinstance(result, int) else EXIT_OK)


def _fail(message: str, code: int) -> None:
    click.echo(f"casstore: error: {message}", err=True)
    sys.exit(code)


def hint_text(hint: str | None) -> str | None:
    """Word a library error's hint as the command line's flag (the library's messages name none)."""
    from casstore import HINT_FORCE, HINT_PROJECT, HINT_STORE

    wording = {
        HINT_FORCE: "use --force",
        HINT_PROJECT: "use --project",
        HINT_STORE: "run 'casstore init' or pass --store PATH",
    }
    return wording.get(hint) if hint else None


def _fail_from_exception(exc: Exception) -> None:
    from casstore import CasstoreError

    if isinstance(exc, CasstoreError):
        hint = hint_text(exc.hint)
        _fail(f"{exc} ({hint})" if hint else str(exc), exc.exit_code)
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"{exc.strerror or exc}{where}", EXIT_USAGE)
    _fail(f"internal error ({type(exc).__name__}: {exc}); please report this", EXIT_INTERNAL)


@click.group(
    cls=CasstoreGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Revisions (REV, OLD, NEW): see 'casstore help revisions'. 'casstore help COMMAND' shows one command.",
)
@click.option(
    "--store",
    "store_path",
    metavar="PATH",
    envvar="CASSTORE_DIR",
    help="Store to use (default: ./.casstore found upward from here; env CASSTORE_DIR).",
)
@click.version_option(package_name="casstore", prog_name="casstore")
@click.pass_context
def cli(ctx: click.Context, store_path: str | None) -> None:
    """casstore: a content-addressed history for tracker/mixer project bundles."""
    ctx.obj = {"store_path": store_path}


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="casstore")
