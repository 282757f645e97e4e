"""Logs, metrics, health: how an unattended money-moving worker says what it is doing."""
