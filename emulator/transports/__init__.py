"""emulator/transports."""
