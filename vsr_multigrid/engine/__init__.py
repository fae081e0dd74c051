"""mmengine/MMagic adapters. Importing this package registers them.

Each module registers into MMagic's registries (searched first under
``default_scope='mmagic'``), so configs name the types without a prefix.
"""
from vsr_multigrid.compat.checkpoint import allow_mmengine_checkpoints

allow_mmengine_checkpoints()

from . import datasets, hooks, loops, pruning, routing, samplers, schedulers  # noqa: E402,F401
