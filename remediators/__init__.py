"""Foundry Guard: keeps Azure ML / AI Foundry managed resources working and AI accounts locked down."""
