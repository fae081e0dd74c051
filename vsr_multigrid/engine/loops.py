"""Iteration-based train loop driven by a multigrid curriculum."""
import json
import logging
import os
import os.path as osp
import time
from typing import Optional

from mmengine.dist import get_rank, is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmengine.runner.utils import calc_dynamic_intervals
from mmagic.registry import LOOPS

from vsr_multigrid.multigrid.schedule import PRESET_DEFAULTS, Shape, build_schedule
from .datasets import MultigridFramesDataset
from .hooks import CheckpointShapeHook, MultigridStateHook
from .samplers import MultigridBatchSampler
from .schedulers import MultigridLR


@LOOPS.register_module()
class MultigridTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` whose length and shapes come from a curriculum.

    The stock ``train_cfg`` keys keep their stock meaning: ``max_iters`` and
    ``val_interval`` describe the *stock* run. The loop computes the schedule
    once (:func:`vsr_multigrid.multigrid.schedule.build_schedule`) from
    ``curriculum``, the stock budget and the stock shape (per-GPU batch size,
    the dataset's clip length, the pipeline's crop), prints it as a table,
    and derives from it:

    * ``max_iters``: the curriculum's total iterations;
    * validation and checkpoint intervals: scaled by total / stock
      iterations, so both runs validate and save at the same share of the
      budget;
    * the model's ``fix_iter`` (SPyNet frozen): counted in samples seen, i.e.
      the first iteration at which ``fix_iter * base batch`` clips were seen.

    On resume it restarts the batch sampler at the resumed iteration instead
    of decoding every skipped batch again, and re-attaches the schedule to
    :class:`MultigridLR`, so the (B, T, S, lr) sequence continues unchanged.
    Every iteration it logs ``mg_batch_size``, ``mg_num_frames``,
    ``mg_crop_size``, ``mg_lr_factor`` and ``mg_compute_ratio`` to the message
    hub (hence to every visualizer backend, TensorBoard included) and appends
    the shape, LR and step time to ``<work_dir>/curriculum/rank<r>.jsonl``.

    Args:
        runner: The runner.
        dataloader (dict): Train dataloader config; its ``batch_sampler``
            must be ``MultigridBatchSampler`` and its dataset
            ``MultigridFramesDataset``.
        max_iters (int): Iterations of the stock run (the budget reference).
        val_begin (int): As in ``IterBasedTrainLoop`` (stock iterations).
        val_interval (int): Stock validation interval.
        curriculum (dict): Schedule config, e.g. ``dict(preset='vsr')``; see
            ``build_schedule``. ``min_frames`` defaults to what the generator
            needs (``2 * padding + 1`` for IconVSR, else 2).
    """

    def __init__(self, runner, dataloader, max_iters: int,
                 val_begin: int = 1, val_interval: int = 1000,
                 dynamic_intervals=None, curriculum: Optional[dict] = None):
        if not isinstance(curriculum, dict):
            raise ValueError(
                "train_cfg.curriculum must be a dict such as dict(preset='vsr'), "
                f'got {curriculum!r}')
        if dynamic_intervals is not None:
            raise ValueError('train_cfg.dynamic_intervals is not supported with '
                             'a curriculum: intervals are derived from it')
        if not isinstance(max_iters, int) or max_iters <= 0:
            raise ValueError(f'train_cfg.max_iters (the stock budget) must be a '
                             f'positive int, got {max_iters!r}')
        if isinstance(dataloader, dict):
            dataloader = runner.build_dataloader(
                dataloader, seed=runner.seed,
                diff_rank_seed=runner._randomness_cfg.get('diff_rank_seed', False))
        batch_sampler = dataloader.batch_sampler
        if not isinstance(batch_sampler, MultigridBatchSampler):
            raise ValueError(
                'MultigridTrainLoop needs train_dataloader.batch_sampler='
                "dict(type='MultigridBatchSampler'), got "
                f'{type(batch_sampler).__name__}')
        dataset = dataloader.dataset
        if not isinstance(dataset, MultigridFramesDataset):
            raise ValueError(
                'MultigridTrainLoop needs train_dataloader.dataset.type='
                f"'MultigridFramesDataset', got {type(dataset).__name__}")
        self.stock_iters = max_iters
        self.stock_val_interval = val_interval
        self.schedule = schedule_for(curriculum, dataset, batch_sampler.batch_size,
                                     max_iters, _model_min_frames(runner.model),
                                     model_flow_multiple=flow_multiple(runner.model))
        batch_sampler.set_schedule(self.schedule)
        self.frames_multiplier = dataset.frames_multiplier
        # A missing frame would otherwise surface whenever its clip is drawn.
        dataset.check_frames()
        total = self.schedule.total_iters
        # IterBasedTrainLoop.__init__ would create the dataloader iterator
        # now, and its workers would prefetch from iteration 0 before a resume
        # is known; set its state here and create the iterator in run().
        BaseLoop.__init__(self, runner, dataloader)
        self._max_epochs = 1
        self._max_iters = total
        self._epoch = 0
        self._iter = 0
        self.val_begin = self._scaled(val_begin)
        self.val_interval = self._scaled(val_interval)
        self.stop_training = False
        self.runner.visualizer.dataset_meta = dataset.metainfo
        self.dynamic_milestones, self.dynamic_intervals = calc_dynamic_intervals(
            self.val_interval, None)
        self.dataloader_iterator = None
        print_log('Multigrid curriculum (computed before training):\n'
                  + self.schedule.table(), logger='current')
        for note in self.schedule.notes:
            print_log(f'Multigrid: {note}', logger='current', level=logging.WARNING)
        self._warn_if_budget_overshoots(curriculum)
        print_log(f'Multigrid: {total} iterations instead of {max_iters}; '
                  f'validation every {self.val_interval} (stock {val_interval}).',
                  logger='current')
        self._scale_checkpoint_interval()
        self._trace_path = None
        # Curriculum state in checkpoints (sampler seed, schedule) and a
        # loud refusal of checkpoints whose tensors do not fit the model.
        self.state_hook = _registered(runner, MultigridStateHook)
        _registered(runner, CheckpointShapeHook)

    def _warn_if_budget_overshoots(self, curriculum: dict) -> None:
        """Say so when phase minimums inflate a samples budget (tiny runs)."""
        preset = curriculum.get('preset')
        defaults = PRESET_DEFAULTS.get(preset, {})
        if curriculum.get('budget', defaults.get('budget', 'samples')) != 'samples':
            return
        factor = curriculum.get('epoch_factor', defaults.get('epoch_factor', 1.0))
        target = self.stock_iters * self.schedule.base.batch_size * factor
        if self.schedule.total_samples > 1.1 * target:
            print_log(
                f'Multigrid: the curriculum sees {self.schedule.total_samples} '
                f'clips against a budget of {target:.0f}: the budget is too small '
                'for its phases (each runs at least one iteration); raise '
                'train_cfg.max_iters or use fewer phases for a fair comparison.',
                logger='current', level=logging.WARNING)

    def _scaled(self, stock_interval: int) -> int:
        return self.schedule.scaled_interval(stock_interval)

    def _scale_checkpoint_interval(self) -> None:
        for hook in self.runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch:
                stock = hook.interval
                hook.interval = self._scaled(stock)
                print_log(f'Multigrid: checkpoint every {hook.interval} '
                          f'iterations (stock {stock}).', logger='current')

    def _set_fix_iter(self) -> None:
        model = self.runner.model
        model = model.module if is_model_wrapper(model) else model
        fix_iter = getattr(model, 'fix_iter', None)
        if not fix_iter:
            return
        target = fix_iter * self.schedule.base.batch_size
        iteration = self.schedule.first_iter_with_samples(target)
        model.fix_iter = iteration
        print_log(f'Multigrid: fix_iter {fix_iter} stock iterations = {target} '
                  f'samples -> {iteration} curriculum iterations.',
                  logger='current')

    def run(self):
        self._set_fix_iter()
        self._multigrid_lr().bind(self.schedule)
        batch_sampler = self.dataloader.batch_sampler
        if self._iter > 0:
            # Same curriculum and the same index stream as before the stop,
            # whatever the seed of this process (randomness.seed=None draws
            # a new one at every start).
            self.state_hook.check_resumed_schedule(self.schedule)
            batch_sampler.set_seed(self.state_hook.resumed_sampler_seed())
        # Resume without decoding the skipped batches: the index stream starts
        # at the resumed iteration.
        batch_sampler.set_start_iter(self._iter)
        self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)
        if self._iter > 0:
            print_log(f'Multigrid: resumed at iteration {self._iter}; the '
                      'sampler skips the consumed indices without loading them.',
                      logger='current')
        work_dir = osp.join(self.runner.work_dir, 'curriculum')
        os.makedirs(work_dir, exist_ok=True)
        self._trace_path = osp.join(work_dir, f'rank{get_rank()}.jsonl')
        if is_main_process():
            with open(osp.join(work_dir, 'schedule.json'), 'w') as f:
                json.dump(dict(self.schedule.to_dict(),
                               compute_ratio=self.schedule.compute_ratio,
                               total_iters=self.schedule.total_iters,
                               stock_iters=self.stock_iters), f, indent=1)
            with open(osp.join(work_dir, 'schedule.txt'), 'w') as f:
                f.write(self.schedule.table() + '\n')
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            start = time.perf_counter()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch, start)
            self._decide_current_val_interval()
            # A non-positive interval validates only at the end (Python's
            # i % -1 == 0 would validate every iteration).
            if (self.runner.val_loop is not None
                    and self._iter >= self.val_begin
                    and ((self.val_interval > 0 and self._iter % self.val_interval == 0)
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _multigrid_lr(self) -> MultigridLR:
        """The one LR scheduler of a curriculum; refuse a missing or a second one."""
        schedulers = _flat(self.runner.param_schedulers)
        found = [s for s in schedulers if isinstance(s, MultigridLR)]
        others = [type(s).__name__ for s in schedulers
                  if not isinstance(s, MultigridLR)
                  and (isinstance(s, LRSchedulerMixin) or getattr(s, 'param_name', '') == 'lr')]
        example = ("param_scheduler = dict(_delete_=True, type='MultigridLR', "
                   'by_epoch=False, stock={{_base_.param_scheduler}})')
        if not found:
            raise ValueError(
                'param_scheduler: a multigrid config needs MultigridLR, which lays '
                'the curriculum\'s LR scaling on the stock schedule; found '
                f'{others or "no LR scheduler"}. Use: {example}')
        if len(found) > 1 or others:
            raise ValueError(
                'param_scheduler: MultigridLR must be the only LR scheduler (put the '
                f'stock ones in its `stock` key); found also {others or "a second MultigridLR"}. '
                f'Use: {example}')
        return found[0]

    def run_iter(self, data_batch, start: Optional[float] = None) -> None:
        iteration = self._iter
        shape = self.dataloader.batch_sampler.shape_at(iteration)
        loaded = _check_batch_shape(data_batch, shape, iteration, self.frames_multiplier)
        # The largest group LR is the base one (lr_mult groups are smaller).
        lr = max(self.runner.optim_wrapper.get_lr()['lr'])
        hub = self.runner.message_hub
        hub.update_scalar('train/mg_batch_size', shape.batch_size)
        hub.update_scalar('train/mg_num_frames', shape.num_frames)
        hub.update_scalar('train/mg_crop_size', shape.crop_size)
        hub.update_scalar('train/mg_lr_factor',
                          self.schedule.lr_factor_at(
                              min(iteration, self.schedule.total_iters - 1)))
        hub.update_scalar('train/mg_compute_ratio', self.schedule.compute_ratio)
        # IterBasedTrainLoop.run_iter, with the trace record written between
        # the step and `after_train_iter`: CheckpointHook saves there, and a
        # run killed right after that save must still have this record (its
        # resume starts at the next iteration).
        self.runner.call_hook('before_train_iter', batch_idx=iteration, data_batch=data_batch)
        outputs = self.runner.model.train_step(data_batch,
                                               optim_wrapper=self.runner.optim_wrapper)
        if self._trace_path is not None:
            # What the schedule asked for, and what the batch really held.
            record = dict(iter=iteration, batch_size=shape.batch_size,
                          num_frames=shape.num_frames, crop_size=shape.crop_size,
                          lr=lr, loaded=loaded, seconds=(time.perf_counter() - start)
                          if start is not None else None)
            with open(self._trace_path, 'a') as f:
                f.write(json.dumps(record) + '\n')
        self.runner.call_hook('after_train_iter', batch_idx=iteration, data_batch=data_batch,
                              outputs=outputs)
        self._iter += 1


def schedule_for(curriculum: dict, dataset, batch_size: int, stock_iters: int,
                 model_min_frames: int = 2, frame_side: Optional[int] = None,
                 model_flow_multiple: Optional[int] = None):
    """Build the curriculum of a stock config's training data.

    The base shape is the stock one: the per-GPU ``batch_size``, the
    dataset's clip length and its pipeline's crop; crops are checked against
    the smallest frame listed in the annotation file.

    Args:
        curriculum (dict): ``train_cfg.curriculum``; its ``min_frames`` and
            ``flow_multiple`` keys override ``model_min_frames`` and
            ``model_flow_multiple``.
        dataset (MultigridFramesDataset): The training dataset.
        batch_size (int): Stock per-GPU batch size.
        stock_iters (int): Iterations of the stock run.
        model_min_frames (int): Shortest clip the model accepts (frames it
            sees; halved, rounded up, after ``MirrorSequence``).
        frame_side (int, optional): Smallest GT frame side to check crops
            against; default: read from the dataset's annotation file.
        model_flow_multiple (int, optional): LR multiple the model's flow
            network resizes its input to (see :func:`flow_multiple`).
    """
    curriculum = dict(curriculum)
    min_frames = curriculum.pop('min_frames', None)
    flow = curriculum.pop('flow_multiple', model_flow_multiple)
    if min_frames is None:
        # The model's minimum counts the frames it sees; after MirrorSequence
        # each listed frame is seen twice.
        min_frames = -(-model_min_frames // dataset.frames_multiplier)
    base = Shape(batch_size=batch_size, num_frames=dataset.base_num_frames,
                 crop_size=dataset.base_crop_size)
    if frame_side is None:
        frame_side = dataset.min_frame_side()
    return build_schedule(curriculum, base, stock_iters, scale=dataset.scale,
                          min_frames=min_frames, max_crop=frame_side, flow_multiple=flow)


def _flat(schedulers):
    if schedulers is None:
        return []
    if isinstance(schedulers, dict):
        return [s for group in schedulers.values() for s in group]
    return list(schedulers)


def min_frames_for_padding(padding) -> int:
    """Shortest clip a generator accepts: IconVSR reflects ``padding`` frames
    at each end (2 * padding + 1); BasicVSR needs 2."""
    return 2 * int(padding) + 1 if padding else 2


def _generator(model):
    """The generator of a (possibly DDP-wrapped) editor model, or the model itself."""
    model = model.module if is_model_wrapper(model) else model
    return getattr(model, 'generator', model)


def _model_min_frames(model) -> int:
    return min_frames_for_padding(getattr(_generator(model), 'padding', None))


#: LR multiple each known generator's flow network resizes its input up to:
#: MMagic's SPyNet (in BasicVSR, IconVSR, BasicVSR++) works on multiples of 32.
GENERATOR_FLOW_MULTIPLES = {'BasicVSRNet': 32, 'IconVSRNet': 32, 'BasicVSRPlusPlusNet': 32}


def generator_flow_multiple(generator_class) -> Optional[int]:
    """Flow multiple of a generator class (or a subclass of a known one), else None."""
    for cls in generator_class.__mro__:
        if cls.__name__ in GENERATOR_FLOW_MULTIPLES:
            return GENERATOR_FLOW_MULTIPLES[cls.__name__]
    return None


def flow_multiple(model) -> Optional[int]:
    """Flow multiple of a built model's generator (see :data:`GENERATOR_FLOW_MULTIPLES`)."""
    return generator_flow_multiple(type(_generator(model)))


def _registered(runner, hook_type):
    """The runner's hook of ``hook_type``, registering one if there is none."""
    for hook in runner.hooks:
        if isinstance(hook, hook_type):
            return hook
    hook = hook_type()
    runner.register_hook(hook)
    return hook


def _check_batch_shape(data_batch, shape, iteration, frames_multiplier=1) -> dict:
    """Fail loudly if the loaded batch is not the scheduled shape.

    ``frames_multiplier`` is 2 when ``MirrorSequence`` doubles the listed
    frames. Returns what was loaded: ``batch``, ``frames``, ``lr`` and ``gt``
    sizes and the sample keys.
    """
    inputs = data_batch['inputs']
    samples = data_batch['data_samples']
    first = inputs[0]
    found = (len(inputs), first.shape[0])
    expected = (shape.batch_size, shape.num_frames * frames_multiplier)
    if found != expected:
        mirrored = ' (x2 by MirrorSequence)' if frames_multiplier > 1 else ''
        raise RuntimeError(
            f'iteration {iteration}: the batch has (B, T) = {found} but the '
            f'curriculum scheduled {expected}{mirrored}; is the dataset a '
            'MultigridFramesDataset?')
    gt = samples[0].gt_img
    gt_size = tuple(gt.shape[-2:]) if hasattr(gt, 'shape') else None
    if gt_size is not None and gt_size != (shape.crop_size, shape.crop_size):
        raise RuntimeError(
            f'iteration {iteration}: GT crop {gt_size} differs from the '
            f'scheduled {shape.crop_size}; does the pipeline crop with '
            'PairedRandomCrop?')
    return dict(batch=len(inputs), frames=int(first.shape[0]),
                lr=list(first.shape[-2:]), gt=list(gt_size) if gt_size else None,
                keys=[_sample_key(s) for s in samples])


def _sample_key(data_sample) -> Optional[str]:
    """First LR frame of a sample, its last three path parts: clip and frame,
    e.g. ``'X4/000/00000003.png'`` (REDS), ``'00001/0001/im1.png'`` (Vimeo)."""
    path = data_sample.metainfo.get('img_path')
    if isinstance(path, (list, tuple)) and path:
        path = path[0]
    if isinstance(path, str):
        return '/'.join(path.replace(os.sep, '/').split('/')[-3:])
    key = data_sample.metainfo.get('key')
    return None if key is None else str(key)
