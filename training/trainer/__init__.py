"""Generic, resumable, distributed training of DeRVOS's stages (see training/train.py)."""
from .config import DataConfig, OptimConfig, ScheduleConfig, TrainConfig, config_from_dict, load_config
from .loop import TrainResult, run_training
from .stage import Stage, get_stage

__all__ = ["DataConfig", "OptimConfig", "ScheduleConfig", "TrainConfig", "TrainResult", "Stage",
           "config_from_dict", "get_stage", "load_config", "run_training"]
