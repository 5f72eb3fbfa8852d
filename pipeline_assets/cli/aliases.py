"""The spellings users of the tools this project replaces type (the seeds' CLI): each still works, and says once
what it is called now. Also ``--config`` after the command (``pipeline-assets sync --config F``), where users put
it first."""

import click

COMMANDS = {"s3clean": "stage"}
OPTIONS = {
    "sync": {"--backup-only": "--stage-only", "--redshift-only": "--load-only"},
}


def rewrite(args: list[str]) -> list[str]:
    """``args`` with the old spellings replaced by the new ones (a note on stderr for each), and a ``--config`` that
    follows the command moved in front of it."""
    head, rest = _split(args)
    if not rest:
        return args
    command, options = rest[0], rest[1:]
    if command in COMMANDS:
        click.echo(f"note: `{command}` is now `{COMMANDS[command]}`", err=True)
        command = COMMANDS[command]
    renamed = OPTIONS.get(command, {})
    moved: list[str] = []
    kept: list[str] = []
    tokens = iter(options)
    for token in tokens:
        if token == "--config":
            moved += [token, next(tokens, "")]
        elif token.startswith("--config="):
            moved.append(token)
        elif token in renamed:
            click.echo(f"note: `{command} {token}` is now `{command} {renamed[token]}`", err=True)
            kept.append(renamed[token])
        else:
            kept.append(token)
    return [*head, *moved, command, *kept]


def _split(args: list[str]) -> tuple[list[str], list[str]]:
    """The group's own options, and the command with what follows it."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 1 if "=" in args[i] or args[i] in ("-h", "--help") else 2
    return args[:i], args[i:]
