"""Hooks: training progress for comparisons, curriculum state, checkpoint checks."""
import json
import os.path as osp
import resource
import time

import torch

from mmengine.dist import get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
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

    The hook runs before ``CheckpointHook`` (priority ``ABOVE_NORMAL``
    against its ``VERY_LOW``), so a checkpoint holds the counters of the
    iteration it was saved at.

    Args:
        filename (str): File name inside the work dir.
    """

    priority = 'ABOVE_NORMAL'

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

    def before_val_epoch(self, runner) -> None:
        # Count what ran since the last iteration (a checkpoint being saved).
        if self._last is not None:
            now = time.perf_counter()
            self.train_seconds += now - self._last
            self._last = now

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


@HOOKS.register_module()
class MultigridStateHook(Hook):
    """Keep the curriculum's state in checkpoints, so a resume continues it.

    Saves the index sampler's seed and the schedule in the checkpoint's
    ``meta['multigrid']``. On resume, :class:`MultigridTrainLoop` re-seeds
    its sampler with the saved seed (with ``randomness.seed=None`` every
    start draws a new seed, so the resumed run would otherwise draw other
    clips) and refuses a checkpoint trained with another curriculum.
    The loop registers this hook itself.
    """

    priority = 'VERY_HIGH'

    def __init__(self):
        self.loaded = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        loop = runner.train_loop
        if not hasattr(loop, 'schedule'):
            return
        checkpoint.setdefault('meta', {})['multigrid'] = dict(
            sampler_seed=loop.dataloader.batch_sampler.seed,
            schedule=_plain(loop.schedule.to_dict()))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loaded = checkpoint.get('meta', {}).get('multigrid')

    def _require_loaded(self) -> dict:
        if self.loaded is None:
            raise ValueError(
                'resume: the checkpoint has no multigrid state (meta.multigrid), so '
                'it was not written by a multigrid run and its curriculum is unknown; '
                'start a new run from its weights with load_from=... instead')
        return self.loaded

    def resumed_sampler_seed(self):
        """Seed the interrupted run drew its indices with."""
        return self._require_loaded().get('sampler_seed')

    def check_resumed_schedule(self, schedule) -> None:
        """Refuse to resume a run into a different curriculum."""
        saved = self._require_loaded()['schedule']
        current = _plain(schedule.to_dict())
        if saved == current:
            return
        differing = [k for k in current if saved.get(k) != current.get(k)]
        key = differing[0] if differing else '?'
        raise ValueError(
            f'resume: the checkpoint was trained with another curriculum ({key}: '
            f'{_short(saved.get(key))} in the checkpoint, {_short(current.get(key))} '
            'now); resume with the config it was trained with, or start a new run')


def _plain(value):
    """JSON round trip: tuples become lists, as they come back from a checkpoint."""
    return json.loads(json.dumps(value))


def _short(value, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + '...'


@HOOKS.register_module()
class CheckpointShapeHook(Hook):
    """Refuse a checkpoint whose tensors do not fit the model, before training.

    mmengine's ``load_from`` only warns on a shape mismatch and trains on
    with those layers at their random init, and ``--resume`` dies later in
    the optimizer with a raw size error. This hook compares every tensor
    that the checkpoint and the model both name and raises, naming the first
    mismatched layer, when any shape differs. Keys present on one side only
    are left to mmengine (partial loads stay possible).
    """

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict', checkpoint)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        mismatched = checkpoint_shape_mismatches(model.state_dict(), state)
        if mismatched:
            name, found, expected = mismatched[0]
            raise ValueError(
                f'the checkpoint does not fit the model: {name} has shape '
                f'{tuple(found)} in the checkpoint but {tuple(expected)} in the model '
                f'({len(mismatched)} mismatched tensor(s)); was it trained with another '
                'width (mid_channels), depth or a pruned spec?')


def checkpoint_shape_mismatches(model_state: dict, checkpoint_state: dict) -> list:
    """``(name, checkpoint shape, model shape)`` of every tensor both name but
    with different shapes; a ``module.`` prefix (DDP) is ignored."""
    mismatched = []
    for name, value in checkpoint_state.items():
        key = name[len('module.'):] if name.startswith('module.') else name
        target = model_state.get(key)
        if target is None or not hasattr(value, 'shape'):
            continue
        if tuple(value.shape) != tuple(target.shape):
            mismatched.append((key, tuple(value.shape), tuple(target.shape)))
    return mismatched
