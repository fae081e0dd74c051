"""Hooks that record training progress for side-by-side comparisons."""
import json
import os.path as osp
import resource
import time

import torch

from mmengine.dist import get_world_size, is_main_process
from mmengine.hooks import Hook
from mmagic.registry import HOOKS


@HOOKS.register_module()
class ProgressRecorderHook(Hook):
    """Write validation metrics against training wall-clock and samples seen.

    Appends one JSON line per validation to ``<work_dir>/progress.jsonl``::

        {"iter": 400, "train_seconds": 512.3, "samples_seen": 3200,
         "metrics": {"PSNR": 27.1, "SSIM": 0.80}, "max_rss_mb": 900.1,
         "cuda_max_allocated_mb": null}

    ``train_seconds`` counts data loading and training steps (checkpoint
    saving included) but not validation, so runs that validate at the same
    progress points compare fairly. The counters survive resume (they are kept
    in the checkpoint's ``meta``), so a killed-and-resumed run reports the
    same totals as an uninterrupted one, minus the lost interval.

    Args:
        filename (str): File name inside the work dir.
    """

    priority = 'LOWEST'

    def __init__(self, filename: str = 'progress.jsonl'):
        if not filename or osp.basename(filename) != filename:
            raise ValueError(f'filename must be a plain file name, got {filename!r}')
        self.filename = filename
        self.train_seconds = 0.0
        self.samples_seen = 0
        self._last = None

    def before_train(self, runner) -> None:
        self._last = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        now = time.perf_counter()
        self.train_seconds += now - self._last
        self._last = now
        self.samples_seen += len(data_batch['inputs']) * get_world_size()
        runner.message_hub.update_scalar('train/samples_seen', self.samples_seen)
        runner.message_hub.update_scalar('train/train_seconds', self.train_seconds)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self._last is None:  # validation outside training (runner.val())
            return
        if is_main_process():
            record = dict(iter=runner.iter, train_seconds=self.train_seconds,
                          samples_seen=self.samples_seen,
                          metrics={k: float(v) for k, v in (metrics or {}).items()},
                          **peak_memory_mb())
            with open(osp.join(runner.work_dir, self.filename), 'a') as f:
                f.write(json.dumps(record) + '\n')
        self._last = time.perf_counter()  # validation time does not count

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['progress_recorder'] = dict(
            train_seconds=self.train_seconds, samples_seen=self.samples_seen)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # mmengine calls this for `load_from` too; only a resumed run
        # continues the counters, a run initialised from weights starts at 0.
        state = checkpoint.get('meta', {}).get('progress_recorder')
        if state is not None and getattr(runner, '_resume', False):
            self.train_seconds = float(state['train_seconds'])
            self.samples_seen = int(state['samples_seen'])


def peak_memory_mb() -> dict:
    """Peak resident memory of this process and, on GPU, peak CUDA allocation."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    cuda = (torch.cuda.max_memory_allocated() / 2**20
            if torch.cuda.is_available() and torch.cuda.is_initialized() else None)
    return dict(max_rss_mb=round(rss, 1),
                cuda_max_allocated_mb=None if cuda is None else round(cuda, 1))
