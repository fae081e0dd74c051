"""vsr_multigrid: cheaper training and inference for video super-resolution.

Importing the package registers its MMagic/mmengine parts (datasets,
transforms, samplers, loops, schedulers, hooks) when MMagic is installed. The
framework-free core (``vsr_multigrid.multigrid``, ``vsr_multigrid.data``)
imports without MMagic; the BasicSR adapter (``vsr_multigrid.basicsr_ext``)
imports BasicSR only when used.
"""
import importlib.util

__version__ = '0.1.0'

# Register only when MMagic exists, so the pure core stays usable without it.
# A broken MMagic install still fails loudly here instead of being hidden.
if importlib.util.find_spec('mmagic') is not None:
    from . import engine  # noqa: F401  (registration side effect)
