"""Placeholder until infra.clients.graph lands."""
