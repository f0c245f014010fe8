"""``python -m scratchnn.cli``: the ``scratchnn`` command."""

from scratchnn.cli import main

if __name__ == "__main__":
    main()
