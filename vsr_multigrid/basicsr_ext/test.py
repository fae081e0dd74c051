"""BasicSR testing with the plugin: ``python -m vsr_multigrid.basicsr_ext.test -opt OPTIONS.yml``.

Registers the plugin's datasets and archs, then runs BasicSR's own
``test_pipeline`` (results under ``results/`` of the current directory); on a
machine without CUDA inside :func:`vsr_multigrid.compat.basicsr.basicsr_on_cpu`.
"""
import os
import sys
from typing import Optional

from vsr_multigrid.basicsr_ext import register
from vsr_multigrid.compat.basicsr import basicsr_on_cpu


def main(argv: Optional[list] = None) -> None:
    if argv is not None:
        sys.argv = [sys.argv[0]] + list(argv)
    register()
    import basicsr.test as pipeline
    with basicsr_on_cpu():
        pipeline.test_pipeline(os.getcwd())


if __name__ == '__main__':
    main()
