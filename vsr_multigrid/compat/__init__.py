"""Small compatibility layers between pinned third-party versions."""
