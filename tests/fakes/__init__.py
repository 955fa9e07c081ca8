"""Fakes for the live test ring: a strict Chat Completions vendor and a driver for the real Codex CLI."""
