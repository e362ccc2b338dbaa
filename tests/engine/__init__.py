"""Tests through the real Pulumi engine (the pinned CLI from scripts/pulumi-cli.sh) and the emulator."""
