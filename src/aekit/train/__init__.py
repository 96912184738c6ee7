"""Training: the loop, its settings, schedules and checkpoints."""

from aekit.train.config import TrainConfig
from aekit.train.trainer import Trainer, TrainResult

__all__ = ["TrainConfig", "TrainResult", "Trainer"]
