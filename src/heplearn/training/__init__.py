"""The one training loop of every torch model: devices, precision, schedules, checkpoints, DDP."""
