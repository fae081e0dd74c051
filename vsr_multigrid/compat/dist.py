"""Distributed training on machines without a GPU (gloo).

mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and so
fails on a CPU-only machine, and its default DDP wrapper passes
``device_ids=[LOCAL_RANK]``, which DDP rejects for CPU modules. The launchers
call :func:`prepare_distributed` before building the runner: with a GPU it
changes nothing; without one it initialises a gloo process group (mmengine then
skips its own ``init_dist``) and makes the DDP wrapper CPU-friendly.
"""
import os

import torch
import torch.distributed as torch_dist


def prepare_distributed(cfg, launcher: str) -> None:
    """Adjust ``cfg`` and the process group for CPU-only distributed runs.

    Args:
        cfg (mmengine.Config): The training config; modified in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher == 'slurm':
        # Map Slurm's variables to torch's so the env:// rendezvous works.
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ['SLURM_LOCALID'])
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            raise RuntimeError(
                'CPU Slurm runs need MASTER_ADDR (the first node of the job); '
                'tools/slurm_train.sh sets it.')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo', init_method='env://')
