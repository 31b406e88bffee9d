"""Allow ``python -m porcelain`` (used by the tests to run the real CLI in a subprocess)."""

from .cli import main

main()
