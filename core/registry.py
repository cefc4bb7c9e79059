"""The method registry the command line is built from (timm's ``register_model`` / ``create_model`` in small).

A method registers one :class:`Method` record: its name, one line saying what it is, and its commands, grouped
as the command line groups them: ``train``, ``eval``, ``bench`` and ``ship`` (``python -m core train dgnet``),
plus extra top-level commands (``python -m core swap``). Each command is a small object with
``add_arguments(parser)`` and ``run(args) -> int``. The registration lives with the method, in
``core/<method>/commands.py``::

    METHOD = register_method(Method("dgnet", "DG-Net: ...", train=Command("...", _cmd_train_dgnet, _train_arguments)))

and ``core/cli.py`` imports every method's commands module through its one list, ``METHOD_MODULES`` (whose order
is the order ``--help`` lists the methods in, whichever module was imported first), then builds the parser by
iterating the registry. This module imports nothing of the project.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

GROUPS = ("train", "eval", "bench", "ship")
"""The command groups a method can add a subcommand to, as in ``python -m core <group> <method>``."""


class UnknownMethod(LookupError):
    """A method name that no one registered; the message lists the registered ones."""


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """A command without options of its own."""


@dataclass(frozen=True)
class Command:
    """One subcommand: one line of help, what it runs and the arguments it takes.

    ``name`` is its name under its group (default: the method's name, e.g. ``train dgnet``); a method with two
    trainers names the second (``train drgan-judge``), and an extra top-level command must be named (``swap``).
    ``run(args)`` returns the exit code; it raises ``CliError`` (core/cli_helpers.py) for a one-line error.
    """

    help: str
    run: Callable[[argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments
    name: str = ""


def _commands(value: Command | Sequence[Command] | None) -> tuple[Command, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, Command) else tuple(value)


@dataclass(frozen=True)
class Method:
    """A method as the command line sees it: a name, a one-line description and its commands.

    ``train``/``eval``/``bench``/``ship`` each take a :class:`Command` or several (or none); ``commands`` are
    extra top-level commands such as ``texture`` or ``swap``.
    """

    name: str
    description: str
    train: Command | Sequence[Command] = ()
    eval: Command | Sequence[Command] = ()
    bench: Command | Sequence[Command] = ()
    ship: Command | Sequence[Command] = ()
    commands: Sequence[Command] = field(default=())

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip() or " " in self.name:
            raise ValueError(f"a method's name is one word, got {self.name!r}")
        for group in (*GROUPS, "commands"):
            object.__setattr__(self, group, _commands(getattr(self, group)))
        for command in self.commands:
            if not command.name:
                raise ValueError(f"method {self.name!r}: an extra top-level command needs a name ({command.help!r})")

    def group(self, group: str) -> tuple[Command, ...]:
        """The method's commands under ``group`` (one of ``GROUPS``, or ``"commands"`` for the top level)."""
        if group not in (*GROUPS, "commands"):
            raise ValueError(f"no command group {group!r}; the groups are {', '.join(GROUPS)} and commands")
        return getattr(self, group)

    def command_name(self, command: Command) -> str:
        return command.name or self.name


class Registry:
    """Methods by name, in the order they registered (the order the command line lists them in)."""

    def __init__(self) -> None:
        self._methods: dict[str, Method] = {}

    def register(self, method: Method) -> Method:
        if method.name in self._methods:
            raise ValueError(f"method {method.name!r} is already registered")
        for group in (*GROUPS, "commands"):
            taken = {name: owner for owner, name, _ in self.commands(group)}
            for command in method.group(group):
                name = method.command_name(command)
                if name in taken:
                    where = f"python -m core {group} {name}" if group != "commands" else f"python -m core {name}"
                    raise ValueError(f"method {method.name!r}: {where} is already registered by {taken[name].name!r}")
        self._methods[method.name] = method
        return method

    def get(self, name: str) -> Method:
        try:
            return self._methods[name]
        except KeyError:
            known = ", ".join(self._methods) or "none"
            raise UnknownMethod(f"unknown method {name!r}; the registered methods are: {known}") from None

    def commands(self, group: str) -> list[tuple[Method, str, Command]]:
        """Every method's commands under ``group`` as (method, command name, command), in registration order."""
        return [(m, m.command_name(c), c) for m in self._methods.values() for c in m.group(group)]

    def reorder(self, names: Sequence[str]) -> None:
        """List ``names`` first, in that order (the command line's order), then any other method as registered."""
        first = {name: self.get(name) for name in names}
        self._methods = {**first, **{k: v for k, v in self._methods.items() if k not in first}}

    def names(self) -> list[str]:
        return list(self._methods)

    def __iter__(self) -> Iterator[Method]:
        return iter(list(self._methods.values()))

    def __len__(self) -> int:
        return len(self._methods)

    def __contains__(self, name: object) -> bool:
        return name in self._methods


REGISTRY = Registry()
"""The registry the methods' commands modules register into and ``python -m core`` is built from."""


def register_method(method: Method, registry: Registry | None = None) -> Method:
    """Register ``method`` (in ``REGISTRY`` unless another registry is given); returns it."""
    return (REGISTRY if registry is None else registry).register(method)


def get_method(name: str, registry: Registry | None = None) -> Method:
    """The registered method called ``name``; :class:`UnknownMethod` with the known names otherwise."""
    return (REGISTRY if registry is None else registry).get(name)
