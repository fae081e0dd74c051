"""Import BasicSR 1.4.2 under current torchvision.

BasicSR 1.4.2 (its last release) imports
``torchvision.transforms.functional_tensor``, which torchvision 0.17 renamed to
``torchvision.transforms._functional_tensor``. Registering the old name as an
alias of the new module before the first ``import basicsr`` is enough: BasicSR
uses only ``rgb_to_grayscale`` from it, which kept its signature.
"""
import importlib
import sys

_OLD_NAME = 'torchvision.transforms.functional_tensor'
_NEW_NAME = 'torchvision.transforms._functional_tensor'


def import_basicsr():
    """Import and return the ``basicsr`` package, with a clear error if absent.

    Raises:
        ImportError: BasicSR is not installed; the message says how to get it.
    """
    if importlib.util.find_spec('basicsr') is None:
        raise ImportError(
            'vsr_multigrid.basicsr_ext needs BasicSR, which is not installed. '
            'Install it with `pip install --no-deps --no-build-isolation '
            'basicsr==1.4.2` (tools/bootstrap.sh does this) or use the MMagic '
            'integration instead.')
    if _OLD_NAME not in sys.modules:
        try:
            importlib.import_module(_OLD_NAME)
        except ModuleNotFoundError:
            sys.modules[_OLD_NAME] = importlib.import_module(_NEW_NAME)
    return importlib.import_module('basicsr')
