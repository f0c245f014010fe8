"""Models: ``Sequential`` (compile / fit / evaluate / predict), home of the one training loop.

``scratchnn.models.data`` holds the checks every array goes through before training.
"""

from scratchnn.models.sequential import PREDICT_BATCH_SIZE, Sequential

__all__ = ["PREDICT_BATCH_SIZE", "Sequential"]
