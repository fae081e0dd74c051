"""BasicSR training with the plugin: ``python -m vsr_multigrid.basicsr_ext.train -opt OPTIONS.yml``.

Takes BasicSR's own arguments (``--launcher none|pytorch|slurm``,
``--auto_resume``, ``--force_yml``, ...) and runs BasicSR's own
``train_pipeline`` after registering the plugin's datasets and archs, with
``experiments/`` under the current directory. Several processes::

    torchrun --nproc_per_node 2 -m vsr_multigrid.basicsr_ext.train -opt OPTIONS.yml --launcher pytorch

Without a ``multigrid:`` block in ``datasets.train`` this is BasicSR's
training unchanged. With one (and ``type: MultigridREDSRecurrentDataset``),
BasicSR has no hook for per-batch shapes, so the entry point swaps two
functions of ``basicsr.train`` for the run, and only these:

- ``create_train_val_dataloader``: builds the curriculum once (the same
  :func:`~vsr_multigrid.multigrid.schedule.build_schedule` as the MMagic
  side; base shape ``batch_size_per_gpu``, ``num_frame``, ``gt_size``; stock
  budget ``train.total_iter``), logs it as a table, and feeds the train
  loader through :class:`~vsr_multigrid.multigrid.sampling.CurriculumBatchSampler`
  around BasicSR's ``EnlargedSampler`` (its passes are the sampler's epochs,
  so its semantics hold). It rewrites the options in stock terms, as the
  MMagic loop does: ``train.total_iter`` becomes the curriculum's length,
  ``logger.save_checkpoint_freq`` and ``val.val_freq`` keep their share of
  the budget, ``train.fix_flow`` counts the same clips. On resume it
  restarts the sampler at the resumed iteration and refuses a run whose
  curriculum differs from the one saved in ``multigrid_schedule.json``;
- ``build_model``: builds the stock model, then replaces its LR schedulers
  by :class:`CurriculumLR`, the rule of the MMagic side
  (:mod:`vsr_multigrid.multigrid.lr`): the stock curve followed in clips
  seen, times the curriculum's batch factor.

Where CUDA is absent, :func:`vsr_multigrid.compat.basicsr.basicsr_on_cpu`
lets the pipeline run on the CPU (gloo for several processes).
"""
import contextlib
import copy
import json
import os
import os.path as osp
import sys
from functools import partial
from typing import Optional

from vsr_multigrid.basicsr_ext import register
from vsr_multigrid.compat.basicsr import basicsr_on_cpu
from vsr_multigrid.multigrid.lr import StockLRCurve, curriculum_lrs
from vsr_multigrid.multigrid.sampling import CurriculumBatchSampler
from vsr_multigrid.multigrid.schedule import Shape, build_schedule

from .datasets import MULTIGRID_KEY

SCHEDULE_FILE = 'multigrid_schedule.json'
#: BasicSR archs whose flow network (SPyNet) resizes its LR input up to
#: multiples of 32.
FLOW_MULTIPLE = {'BasicVSR': 32, 'IconVSR': 32}
#: Smallest LR side BasicSR 1.4.2's SpyNet accepts: its pyramid halves the
#: (32-padded) input five times and then halves once more, so a 32 px side
#: reaches 0 and fails inside ``F.interpolate`` (MMagic's SPyNet runs at 32).
MIN_FLOW_SIDE = {'BasicVSR': 33, 'IconVSR': 33}


def min_frames(network_opt: dict) -> int:
    """Shortest clip the generator accepts: IconVSR reflects
    ``temporal_padding`` frames at each end."""
    if network_opt.get('type') == 'IconVSR':
        return 2 * int(network_opt.get('temporal_padding', 2)) + 1
    return 2


class CurriculumLR:
    """BasicSR LR scheduler: the stock scheduler's curve in clips seen, times
    the curriculum's factor (:func:`vsr_multigrid.multigrid.lr.curriculum_lrs`).

    Stepped by BasicSR's ``update_learning_rate`` from iteration 2 on, so
    after ``k`` steps it holds curriculum iteration ``k`` (0-based), as the
    stock scheduler holds stock iteration ``k``.

    Args:
        optimizer: The model's optimizer (its groups' ``initial_lr`` set by
            the stock scheduler).
        schedule: The curriculum.
        stock_cfg (dict): The stock ``train.scheduler`` options, type included.
    """

    def __init__(self, optimizer, schedule, stock_cfg: dict):
        from basicsr.models import lr_scheduler
        cfg = dict(stock_cfg)
        kind = cfg.pop('type')
        classes = {'MultiStepLR': lr_scheduler.MultiStepRestartLR,
                   'MultiStepRestartLR': lr_scheduler.MultiStepRestartLR,
                   'CosineAnnealingRestartLR': lr_scheduler.CosineAnnealingRestartLR}
        if kind not in classes:
            raise ValueError(f'train.scheduler.type: {kind!r} is not a BasicSR scheduler; '
                             f'expected one of {sorted(classes)}')
        self.optimizer = optimizer
        self.schedule = schedule
        for group in optimizer.param_groups:
            group.setdefault('initial_lr', group['lr'])
        self.curve = StockLRCurve([g['initial_lr'] for g in optimizer.param_groups],
                                  lambda shadow: [classes[kind](shadow, **cfg)])
        self.last_epoch = 0
        self._apply()

    def _apply(self) -> None:
        for group, lr in zip(self.optimizer.param_groups,
                             curriculum_lrs(self.schedule, self.curve, self.last_epoch)):
            group['lr'] = lr

    def step(self) -> None:
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self):
        return [group['lr'] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return dict(last_epoch=self.last_epoch)

    def load_state_dict(self, state: dict) -> None:
        self.last_epoch = int(state['last_epoch'])
        self._apply()


def _check_options(opt: dict, train_opt: dict) -> None:
    from .datasets import MultigridREDSRecurrentDataset, MultigridVimeo90KRecurrentDataset
    kinds = (MultigridREDSRecurrentDataset.__name__, MultigridVimeo90KRecurrentDataset.__name__)
    if train_opt.get('type') not in kinds:
        raise ValueError(f'datasets.train.{MULTIGRID_KEY} needs datasets.train.type in '
                         f"{kinds}, got {train_opt.get('type')!r}")
    if opt['train'].get('warmup_iter', -1) > 0:
        raise ValueError(f'train.warmup_iter={opt["train"]["warmup_iter"]}: with a curriculum '
                         f'the warm-up is the schedule\'s; set datasets.train.{MULTIGRID_KEY}.'
                         'warmup_iters instead and train.warmup_iter to -1')
    if not opt['dist'] and opt.get('num_gpu', 0) > 1:
        raise ValueError('a curriculum needs one process per GPU (its batch is per GPU): '
                         f"launch with torchrun and --launcher pytorch, not num_gpu={opt['num_gpu']}")
    if 'scheduler' not in opt['train']:
        raise ValueError('train.scheduler is required: the curriculum follows its curve')


def _schedule(opt: dict, dataset):
    train_opt = opt['datasets']['train']
    curriculum = dict(dataset.multigrid)
    network = opt.get('network_g', {})
    # The model's minimum counts the frames it sees: after flip_sequence
    # each listed frame is seen twice.
    frames = curriculum.pop('min_frames', -(-min_frames(network)
                                            // getattr(dataset, 'frames_multiplier', 1)))
    flow = curriculum.pop('flow_multiple', FLOW_MULTIPLE.get(network.get('type')))
    base = Shape(batch_size=int(train_opt['batch_size_per_gpu']),
                 num_frames=dataset.base_num_frames, crop_size=dataset.base_crop_size)
    scale = int(opt.get('scale', 4))
    schedule = build_schedule(curriculum, base, int(opt['train']['total_iter']),
                              scale=scale, min_frames=frames,
                              max_crop=dataset.min_frame_side(), flow_multiple=flow)
    min_side = MIN_FLOW_SIDE.get(network.get('type'))
    crops = sorted({shape.crop_size for phase in schedule.phases for shape in phase.shapes}
                   | {base.crop_size})
    if min_side and crops[0] // scale < min_side:
        raise ValueError(
            f'datasets.train: GT crop {crops[0]} (LR {crops[0] // scale} px) is too small for '
            f"BasicSR's SpyNet in {network['type']}, which needs LR sides of at least "
            f'{min_side} px (crops of this curriculum: {crops}); raise gt_size or the '
            f'{MULTIGRID_KEY}.crop_factors')
    return schedule


def _resumed_iter(opt: dict) -> int:
    path = opt['path'].get('resume_state')
    if not path:
        return 0
    import torch
    return int(torch.load(path, map_location='cpu', weights_only=False)['iter'])


def _check_saved_schedule(opt: dict, schedule, resumed: bool) -> None:
    path = osp.join(opt['path']['experiments_root'], SCHEDULE_FILE)
    current = json.loads(json.dumps(schedule.to_dict()))
    if resumed:
        if not osp.isfile(path):
            raise ValueError(f'resume: {path} is missing, so the curriculum of the interrupted '
                             'run is unknown; start a new run from its weights instead')
        with open(path) as f:
            saved = json.load(f)
        if saved != current:
            key = next(k for k in current if saved.get(k) != current.get(k))
            raise ValueError(f'resume: the run was trained with another curriculum ({key}: '
                             f'{saved.get(key)!r} saved, {current.get(key)!r} now); resume '
                             'with the options it was trained with')
    elif opt['rank'] == 0:
        with open(path, 'w') as f:
            json.dump(current, f, indent=1)


class _MultigridRun:
    """The two ``basicsr.train`` functions a curriculum run replaces."""

    def __init__(self, stock_create, stock_build_model):
        self.stock_create = stock_create
        self.stock_build_model = stock_build_model
        self.schedule = None
        self.stock_scheduler = None
        self.start_iter = 0

    def create_train_val_dataloader(self, opt, logger):
        train_opt = opt['datasets'].get('train')
        if train_opt is None or MULTIGRID_KEY not in train_opt:
            return self.stock_create(opt, logger)
        import torch
        from basicsr.data import build_dataloader, build_dataset
        from basicsr.data import worker_init_fn
        from basicsr.data.data_sampler import EnlargedSampler
        from basicsr.data.prefetch_dataloader import PrefetchDataLoader
        _check_options(opt, train_opt)
        dataset = build_dataset(train_opt)
        dataset.check_frames()
        schedule = self.schedule = _schedule(opt, dataset)
        start = self.start_iter = _resumed_iter(opt)
        _check_saved_schedule(opt, schedule, resumed=start > 0)
        logger.info('Multigrid curriculum (computed before training):\n' + schedule.table())
        for note in schedule.notes:
            logger.warning(f'Multigrid: {note}')
        batch_sampler = CurriculumBatchSampler(
            EnlargedSampler(dataset, opt['world_size'], opt['rank'],
                            train_opt.get('dataset_enlarge_ratio', 1)),
            int(train_opt['batch_size_per_gpu']))
        batch_sampler.set_schedule(schedule)
        batch_sampler.set_start_iter(start)
        workers = int(train_opt.get('num_worker_per_gpu', 0))
        seed = opt.get('manual_seed')
        loader_args = dict(
            dataset=dataset, batch_sampler=batch_sampler, num_workers=workers,
            worker_init_fn=(partial(worker_init_fn, num_workers=workers, rank=opt['rank'],
                                    seed=seed) if seed is not None else None),
            pin_memory=train_opt.get('pin_memory', False),
            persistent_workers=train_opt.get('persistent_workers', False) and workers > 0)
        if train_opt.get('prefetch_mode') == 'cpu':
            loader = PrefetchDataLoader(
                num_prefetch_queue=train_opt.get('num_prefetch_queue', 1), **loader_args)
        else:
            loader = torch.utils.data.DataLoader(**loader_args)
        self._rewrite_options(opt, logger)
        val_loaders = []
        for phase, dataset_opt in opt['datasets'].items():
            if phase == 'train':
                continue
            if phase.split('_')[0] != 'val':
                raise ValueError(f'Dataset phase {phase} is not recognized.')
            val_set = build_dataset(dataset_opt)
            val_loaders.append(build_dataloader(val_set, dataset_opt, num_gpu=opt['num_gpu'],
                                                dist=opt['dist'], sampler=None, seed=seed))
        # One epoch: the loader is endless and train_pipeline stops at
        # train.total_iter; a resumed run re-enters epoch 0 at its iteration.
        return loader, batch_sampler, val_loaders, 0, schedule.total_iters

    def _rewrite_options(self, opt: dict, logger) -> None:
        """Stock settings in curriculum iterations, as the MMagic loop sets them."""
        schedule, train = self.schedule, opt['train']
        self.stock_scheduler = copy.deepcopy(dict(train['scheduler']))
        changes = [('train.total_iter', train['total_iter'], schedule.total_iters)]
        train['total_iter'] = schedule.total_iters
        log = opt['logger']
        freq = schedule.scaled_interval(int(log['save_checkpoint_freq']))
        changes.append(('logger.save_checkpoint_freq', log['save_checkpoint_freq'], freq))
        log['save_checkpoint_freq'] = freq
        if opt.get('val') is not None and 'val_freq' in opt['val']:
            freq = schedule.scaled_interval(int(opt['val']['val_freq']))
            changes.append(('val.val_freq', opt['val']['val_freq'], freq))
            opt['val']['val_freq'] = freq
        if train.get('fix_flow'):
            iters = schedule.first_iter_with_samples(
                int(train['fix_flow']) * schedule.base.batch_size)
            changes.append(('train.fix_flow', train['fix_flow'], iters))
            train['fix_flow'] = iters
        for key, stock, now in changes:
            logger.info(f'Multigrid: {key} {stock} (stock) -> {now}')

    def build_model(self, opt):
        model = self.stock_build_model(opt)
        if self.schedule is not None:
            model.schedulers = [CurriculumLR(s.optimizer, self.schedule, self.stock_scheduler)
                                for s in model.schedulers]
            _trace_training_batches(model, opt, self.schedule, self.start_iter)
        return model


def _trace_training_batches(model, opt: dict, schedule, start_iter: int) -> None:
    """Append every training batch's shape, LR and clips to
    ``<experiments_root>/curriculum/rank<r>.jsonl`` (as the MMagic loop
    does): the record a resumed run continues, and what a user plots.

    Wraps the model's ``feed_data``; validation batches (no ``key``) pass
    through unrecorded.
    """
    folder = osp.join(opt['path']['experiments_root'], 'curriculum')
    os.makedirs(folder, exist_ok=True)
    path = osp.join(folder, f"rank{opt['rank']}.jsonl")
    if start_iter == 0 and osp.exists(path):
        os.remove(path)
    feed_data = model.feed_data
    state = dict(iteration=start_iter)

    def traced_feed_data(data):
        if 'key' in data:
            lq = data['lq']
            record = dict(iter=state['iteration'], batch_size=lq.size(0),
                          num_frames=lq.size(1), crop_size=int(data['gt'].size(-1)),
                          lr=model.get_current_learning_rate()[0],
                          clips=[key.split('/')[0] for key in data['key']])
            with open(path, 'a') as f:
                f.write(json.dumps(record) + '\n')
            state['iteration'] += 1
        return feed_data(data)

    model.feed_data = traced_feed_data


@contextlib.contextmanager
def multigrid_pipeline():
    """Inside: ``basicsr.train`` builds curriculum runs (see the module doc)."""
    import basicsr.train as pipeline
    run = _MultigridRun(pipeline.create_train_val_dataloader, pipeline.build_model)
    saved = pipeline.create_train_val_dataloader, pipeline.build_model
    pipeline.create_train_val_dataloader = run.create_train_val_dataloader
    pipeline.build_model = run.build_model
    try:
        yield run
    finally:
        pipeline.create_train_val_dataloader, pipeline.build_model = saved


def main(argv: Optional[list] = None) -> None:
    """Run BasicSR's ``train_pipeline`` with the plugin, from the current directory."""
    if argv is not None:
        sys.argv = [sys.argv[0]] + list(argv)
    register()
    import basicsr.train as pipeline
    with basicsr_on_cpu(), multigrid_pipeline():
        pipeline.train_pipeline(os.getcwd())


if __name__ == '__main__':
    main()
