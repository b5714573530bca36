"""How a command ends on a PostureError: one line on stderr, the exit code from scanner.core.errors.

Every command is a `PostureCommand` (the `posture` group makes its commands so; the command modules
pass `cls=PostureCommand`), so the mapping holds whether the command runs from the console script
or from click's test runner."""
from __future__ import annotations

import click

from scanner.core.errors import EXIT_INTERRUPTED, PostureError, exit_code_for


class CommandFailed(click.ClickException):
    """A PostureError as click shows it: `posture: error: ...`, with the mapped exit code."""

    def __init__(self, exc: PostureError):
        super().__init__(str(exc))
        self.exit_code = exit_code_for(exc)
        self.code = exc.code

    def show(self, file=None) -> None:
        click.echo(f"posture: error: {self.format_message()}", err=True, file=file)


class PostureCommand(click.Command):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PostureError as exc:
            raise CommandFailed(exc) from None
        except KeyboardInterrupt:
            click.echo("posture: interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
