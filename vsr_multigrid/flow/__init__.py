"""Optical-flow helpers in plain torch (no MMagic import)."""
