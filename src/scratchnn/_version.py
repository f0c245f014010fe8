"""The version of scratchnn (one place; ``scratchnn.__version__`` re-exports it)."""

__version__ = "0.1.0"
