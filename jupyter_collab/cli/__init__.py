"""The ``jupyter collab`` command (entry point ``jupyter-collab``).

Exit codes: 0 ok; 1 a user error, reported as one message on stderr (bad
arguments, a missing or invalid file, a model that cannot be reached), never a
traceback; 3 ``check`` found an amendment that does not hold; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from ..core.errors import CollabError

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad command-line arguments (argparse would exit with status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().rstrip()}")


def build_parser() -> argparse.ArgumentParser:
    from ..version import __version__
    from . import check, context, export, install_local, preview

    parser = _Parser(
        prog="jupyter collab",
        description="Annotated AI collaboration for Jupyter notebooks: "
        "inspect and edit a notebook's context, preview amendments, check them, "
        "export corrections as training data.",
    )
    parser.add_argument("--version", action="version", version=f"jupyter-collab {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    context.add_parsers(commands)
    preview.add_parser(commands)
    check.add_parser(commands)
    export.add_parser(commands)
    install_local.add_parser(commands)
    return parser


def _describe_validation(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(p) for p in first["loc"]) or "value"
    return f"invalid {location}: {first['msg']}"


def main(argv: Sequence[str] | None = None) -> int:
    debug = bool(os.environ.get("JUPYTER_COLLAB_DEBUG"))
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return args.handler(args)
    except UsageError as err:
        print(str(err), file=sys.stderr)
        return EXIT_USER_ERROR
    except CollabError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except ValidationError as err:
        print(f"error: {_describe_validation(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # a bug: say so in one line unless debugging
        if debug:
            raise
        print(
            f"error: unexpected {type(err).__name__}: {err} "
            "(set JUPYTER_COLLAB_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
