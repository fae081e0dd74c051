"""Import BasicSR 1.4.2 under current torchvision.

BasicSR 1.4.2 (its last release) imports
``torchvision.transforms.functional_tensor``, which torchvision 0.17 renamed to
``torchvision.transforms._functional_tensor``. Registering the old name as an
alias of the new module before the first ``import basicsr`` is enough: BasicSR
uses only ``rgb_to_grayscale`` from it, which kept its signature.

:func:`basicsr_on_cpu` lets its pipelines run without CUDA (tests, CPU demos).
"""
import contextlib
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


class _CPUTorch:
    """The ``torch`` module as BasicSR's video models see it on a CPU-only
    machine: ``torch.zeros(..., device='cuda')`` (their validation metric
    buffers) allocates on the CPU. Everything else is torch itself."""

    def __getattr__(self, name):
        return getattr(_torch(), name)

    @staticmethod
    def zeros(*size, device=None, **kwargs):
        if device is not None and str(device).startswith('cuda'):
            device = 'cpu'
        return _torch().zeros(*size, device=device, **kwargs)


def _torch():
    import torch
    return torch


def _init_dist_cpu(launcher, backend='gloo', port=None, **kwargs):
    """BasicSR's ``init_dist`` without a GPU: a gloo process group from the
    launcher's environment.

    ``pytorch`` (torchrun): ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``. ``slurm`` (srun, as BasicSR's own Slurm path reads it):
    ``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID``; the master is
    ``MASTER_ADDR`` or the job's first node, the port ``MASTER_PORT``, else
    ``dist_params.port``, else 29500.
    """
    import os
    import subprocess
    import torch.distributed as dist
    if launcher == 'slurm':
        env = os.environ
        missing = [k for k in ('SLURM_PROCID', 'SLURM_NTASKS') if k not in env]
        if missing:
            raise ValueError(f'--launcher slurm: {", ".join(missing)} not set; start the '
                             'processes with srun (tools/slurm_train.sh)')
        if 'MASTER_ADDR' not in env:
            nodes = env.get('SLURM_JOB_NODELIST') or env.get('SLURM_NODELIST')
            if not nodes:
                raise ValueError('--launcher slurm: neither MASTER_ADDR nor '
                                 'SLURM_JOB_NODELIST is set')
            env['MASTER_ADDR'] = subprocess.check_output(
                ['scontrol', 'show', 'hostnames', nodes], text=True).split()[0]
        env.setdefault('MASTER_PORT', str(port or 29500))
        env['RANK'], env['WORLD_SIZE'] = env['SLURM_PROCID'], env['SLURM_NTASKS']
        env['LOCAL_RANK'] = env.get('SLURM_LOCALID', '0')
    elif launcher != 'pytorch':
        raise ValueError(f'--launcher {launcher} on a machine without CUDA: expected '
                         "'pytorch' (torchrun) or 'slurm' (srun)")
    dist.init_process_group(backend='gloo')


def _model_to_device_cpu(self, net):
    """``BaseModel.model_to_device`` on CPU: DDP without device ids."""
    from torch.nn.parallel import DistributedDataParallel
    net = net.to(self.device)
    if self.opt['dist']:
        net = DistributedDataParallel(
            net, find_unused_parameters=self.opt.get('find_unused_parameters', False))
    return net


def _load_resume_state_cpu(opt):
    """``basicsr.train.load_resume_state`` with the state mapped to the CPU."""
    import os.path as osp
    import torch
    from basicsr.utils import check_resume, scandir
    path = None
    if opt['auto_resume']:
        state_dir = osp.join('experiments', opt['name'], 'training_states')
        if osp.isdir(state_dir):
            states = [float(v.split('.state')[0])
                      for v in scandir(state_dir, suffix='state', recursive=False)]
            if states:
                path = osp.join(state_dir, f'{max(states):.0f}.state')
                opt['path']['resume_state'] = path
    else:
        path = opt['path'].get('resume_state')
    if path is None:
        return None
    state = torch.load(path, map_location='cpu', weights_only=False)
    check_resume(opt, state['iter'])
    return state


def _copying_feed_data(stock):
    """``SRModel.feed_data`` that copies ``lq``/``gt``: on the CPU ``.to(device)``
    returns the same tensor, and the video validation squeezes its input in
    place right after feeding it (on a GPU the model holds a copy)."""

    def feed_data(self, data):
        data = {k: v.clone() if k in ('lq', 'gt') else v for k, v in data.items()}
        return stock(self, data)

    return feed_data


@contextlib.contextmanager
def basicsr_on_cpu():
    """Let BasicSR 1.4.2's pipelines run where CUDA is absent; a no-op with CUDA.

    BasicSR assumes a GPU in five places: ``init_dist`` (NCCL and
    ``torch.cuda.set_device``), ``BaseModel.model_to_device`` (DDP with a
    CUDA device id), ``train.load_resume_state`` (maps the state to the
    current CUDA device), the video models' validation (metric buffers
    made with ``device='cuda'``) and ``SRModel.feed_data`` (relies on
    ``.to(device)`` copying, as the validation squeezes its input in place).
    Inside this context those use gloo, the CPU, CPU buffers and a copy;
    everything else is BasicSR's own code.
    """
    import torch
    if torch.cuda.is_available():
        yield
        return
    import_basicsr()
    import basicsr.train
    import basicsr.utils.options
    from basicsr.models import base_model, sr_model, video_base_model, video_recurrent_model
    patches = [(basicsr.utils.options, 'init_dist', _init_dist_cpu),
               (base_model.BaseModel, 'model_to_device', _model_to_device_cpu),
               (basicsr.train, 'load_resume_state', _load_resume_state_cpu),
               (video_base_model, 'torch', _CPUTorch()),
               (video_recurrent_model, 'torch', _CPUTorch()),
               (sr_model.SRModel, 'feed_data', _copying_feed_data(sr_model.SRModel.feed_data))]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
