"""Lazy sub-commands: a sub-command's module is imported only when that sub-command runs.

``dropsync --help`` lists every name with its one-line help from :class:`Sub` alone, without importing
anything; ``dropsync orders list`` imports ``worker.cli.orders`` and nothing of the cancellation
workflow, the sandboxes or the Shopify client. A sub-command is one :class:`Sub` line in
``worker.cli.main.COMMANDS``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import ClassVar

import typer
from typer import _click as click  # typer vendors click: its groups take these types
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True, slots=True)
class Sub:
    """``name``: the command; ``target``: ``"module:attribute"`` (a ``typer.Typer`` group or a command
    function); ``help``: the one line ``dropsync --help`` shows (a test checks it matches the module's)."""

    name: str
    target: str
    help: str

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        obj = getattr(importlib.import_module(module), attribute)
        if isinstance(obj, typer.Typer):
            command: click.Command = typer.main.get_group(obj)
        else:
            single = typer.Typer()
            single.command(self.name)(obj)
            command = typer.main.get_command(single)
        command.name = self.name
        return command


class LazyGroup(TyperGroup):
    """The root group: resolves a :class:`Sub` on invocation; help shows placeholders (name + line)."""

    subs: ClassVar[dict[str, Sub]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.commands, *(name for name in self.subs if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        loaded = self.commands.get(cmd_name)
        if loaded is not None:
            return loaded
        sub = self.subs.get(cmd_name)
        if sub is None:
            return None
        # A listing (``--help``) needs only the name and the line: no import.
        return TyperCommand(sub.name, help=sub.help, short_help=sub.help)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] in self.subs and args[0] not in self.commands:
            self.commands[args[0]] = self.subs[args[0]].load()
        return super().resolve_command(ctx, args)

    def load_all(self) -> dict[str, click.Command]:
        """Every sub-command, imported (tests, documentation)."""
        for name, sub in self.subs.items():
            if name not in self.commands:
                self.commands[name] = sub.load()
        return dict(self.commands)


def lazy_group(subs: list[Sub]) -> type[LazyGroup]:
    """A :class:`LazyGroup` class bound to ``subs`` (typer instantiates the class itself)."""
    return type("DropsyncGroup", (LazyGroup,), {"subs": {sub.name: sub for sub in subs}})
