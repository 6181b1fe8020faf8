"""Tests of the firmware model (pure, deterministic, injected time)."""
