"""``python3 -m memscope ...`` and the ``memscope`` console script: run the
memscope command-line tool (a C program) with this interpreter as the one it
runs programs with."""
import os
import sys
from pathlib import Path


def _cli() -> str:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_cli", here.parent.parent / "bin" / "memscope"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise SystemExit("memscope: the memscope program was not built (run 'make')")


def main() -> None:
    cli = _cli()
    os.environ.setdefault("MEMSCOPE_PYTHON", sys.executable)
    sys.stdout.flush()
    os.execv(cli, [cli, *sys.argv[1:]])


if __name__ == "__main__":
    main()
