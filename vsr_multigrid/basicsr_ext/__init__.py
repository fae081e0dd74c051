"""BasicSR adapter. Importing it imports BasicSR (with the torchvision shim).

BasicSR has no hooks: its extension points are the registries (``ARCH``,
``MODEL``, ``DATASET``) and the model class. This module exposes them after
:func:`vsr_multigrid.compat.basicsr.import_basicsr`, so a missing BasicSR
gives one clear message here and nowhere else.
"""
from vsr_multigrid.compat.basicsr import import_basicsr

basicsr = import_basicsr()

from basicsr.utils.registry import ARCH_REGISTRY  # noqa: E402


def register() -> None:
    """Put the plugin's datasets, archs and models into BasicSR's registries.

    Idempotent; the entry points ``vsr_multigrid.basicsr_ext.train`` and
    ``.test`` call it before BasicSR builds anything.
    """
    import basicsr.archs  # noqa: F401  (BasicSR's own, first)
    import basicsr.data  # noqa: F401
    import basicsr.models  # noqa: F401
    from . import archs, datasets, models  # noqa: F401


def build_arch(type: str, **kwargs):
    """Build a BasicSR network by registry name, e.g. ``build_arch('BasicVSR')``
    or one of the plugin's (``build_arch('SSLBasicVSR')``).

    Raises:
        KeyError: ``type`` is not a registered BasicSR architecture.
    """
    register()
    if type not in ARCH_REGISTRY:
        raise KeyError(f'BasicSR has no architecture {type!r}; known: '
                       f'{sorted(k for k, _ in ARCH_REGISTRY)}')
    return ARCH_REGISTRY.get(type)(**kwargs)
