"""The framework-free core imports no framework: MMagic and BasicSR users
share it, and a broken MMagic install must not break the BasicSR adapter."""
import os
import os.path as osp
import subprocess
import sys

import pytest

import vsr_multigrid

FRAMEWORKS = ('mmagic', 'mmengine', 'mmcv', 'basicsr')
CORE = ('multigrid', 'data', 'flow', 'nets', 'pruning', 'routing')


@pytest.mark.parametrize('package', CORE)
def test_core_package_imports_no_framework(package):
    # The top-level __init__ registers the MMagic parts when MMagic is
    # installed; a bare stand-in for it leaves only the core's own imports.
    root = osp.dirname(osp.abspath(vsr_multigrid.__file__))
    modules = sorted(f'vsr_multigrid.{package}.{name[:-3]}'
                     for name in os.listdir(osp.join(root, package))
                     if name.endswith('.py') and name != '__init__.py')
    code = ('import sys, types\n'
            f'stand_in = types.ModuleType("vsr_multigrid"); stand_in.__path__ = [{root!r}]\n'
            'sys.modules["vsr_multigrid"] = stand_in\n'
            f'for name in {modules!r}: __import__(name)\n'
            'found = {m.split(".")[0] for m in sys.modules} & set(' + repr(FRAMEWORKS) + ')\n'
            'sys.exit(f"imported {sorted(found)}" if found else 0)\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.returncode == 0, f'vsr_multigrid.{package}: {result.stderr[-2000:]}'
