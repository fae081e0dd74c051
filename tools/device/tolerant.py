"""Import mmagic on a machine that lacks some of its optional dependencies.

The lent GPU machine (``tools/device/run.sh``) has torch and CUDA but no
package index, and mmagic's package ``__init__`` files import every model
family at once: diffusion models need diffusers and transformers, the
albumentations transforms need albumentations, and ``mmcv.ops`` loads mmcv's
compiled extension (built for another torch and Python). Installing those is
impossible there, and none of them is used by BasicVSR, SPyNet or this
project. So on that machine:

- each ``mmagic`` package ``__init__`` runs statement by statement and a
  statement that fails is skipped (and listed by :func:`skipped`): the
  families whose dependencies are missing are not registered, and building one
  fails with mmengine's usual "not in the registry" error;
- numpy 2 gets back the alias ``bool8`` (of ``bool_``) that mmagic 1.2 names;
- ``mmcv._ext`` (the compiled ops alone) is a module whose every function
  raises, naming the op, when called: mmcv's Python code imports as usual,
  and IconVSR's EDVR (deformable convolution) fails loudly if run.

Used only through ``sitecustomize`` on that machine, never by the tests or the
demo, which run the complete packages.
"""
import ast
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

_SKIPPED = []


def skipped():
    """``(package, first line of the failure)`` for each skipped statement."""
    return list(_SKIPPED)


class _TolerantInit(importlib.abc.Loader):
    def __init__(self, path):
        self.path = path

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        with open(self.path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), self.path)
        for statement in tree.body:
            code = compile(ast.Module([statement], []), self.path, 'exec')
            try:
                exec(code, module.__dict__)
            except Exception as error:  # noqa: BLE001 (each failure is listed)
                _SKIPPED.append((module.__name__, f'line {statement.lineno}: '
                                 f'{type(error).__name__}: {str(error).splitlines()[0]}'))


class _TolerantFinder(importlib.abc.MetaPathFinder):
    def __init__(self, roots):
        self.roots = roots

    def find_spec(self, fullname, path=None, target=None):
        if not any(fullname.startswith(root + '.') for root in self.roots):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not (spec.origin or '').endswith('__init__.py'):
            return spec
        spec.loader = _TolerantInit(spec.origin)
        return spec


class _UnbuiltOps(types.ModuleType):
    """``mmcv._ext`` where it was not compiled: each op raises when called."""

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)

        def unbuilt(*args, **kwargs):
            raise RuntimeError(f'mmcv op {name!r} is not compiled on this machine '
                               '(tools/device/tolerant.py)')
        return unbuilt


def install(roots=('mmagic',), unbuilt_ops=None):
    """Make the packages under ``roots`` tolerant of failed imports, and give
    mmcv an uncompiled ``_ext`` if it has none (once).

    Args:
        roots (tuple[str]): Top-level packages whose ``__init__`` files may skip.
        unbuilt_ops (bool, optional): Replace ``mmcv._ext`` even where it
            exists (the dry run on a complete machine); None: only where the
            compiled module is missing.
    """
    if not any(isinstance(f, _TolerantFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _TolerantFinder(tuple(roots)))
    import numpy
    if not hasattr(numpy, 'bool8'):
        # mmagic 1.2 names numpy 1's alias at import (utils/trans_utils.py);
        # numpy 2 removed it. The same type under its old name.
        numpy.bool8 = numpy.bool_
    if unbuilt_ops is None:
        unbuilt_ops = importlib.util.find_spec('mmcv') is not None and \
            importlib.util.find_spec('mmcv._ext') is None
    if unbuilt_ops and 'mmcv._ext' not in sys.modules:
        ops = _UnbuiltOps('mmcv._ext')
        # find_spec() of an imported module reads its __spec__ (mmengine asks).
        ops.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
        sys.modules['mmcv._ext'] = ops
