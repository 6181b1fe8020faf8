"""firmware_model."""
