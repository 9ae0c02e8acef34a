"""Training: the LightningModule and its losses, self-distillation, the weight average, checkpoints,
resuming, the config checks, and building a run from its config (build.py)."""
