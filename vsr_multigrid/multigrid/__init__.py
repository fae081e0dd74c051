"""Multigrid curricula for video super-resolution training (pure Python)."""
