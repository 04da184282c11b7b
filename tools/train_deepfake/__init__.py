"""Training, export and evaluation of the bundled deepfake-face classifier (see docs/model_card.md)."""
