"""programmer_gui."""
