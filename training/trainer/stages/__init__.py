"""The built-in training stages (see training.trainer.stage.STAGES)."""
