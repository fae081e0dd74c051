"""BasicSR's recurrent training datasets, shaped batch by batch by a curriculum.

``MultigridREDSRecurrentDataset`` takes the options of BasicSR's
``REDSRecurrentDataset`` plus a ``multigrid:`` block (the schedule config of
:func:`vsr_multigrid.multigrid.schedule.build_schedule`). Its items are
``(index, num_frames, gt_size)`` tuples from
:class:`vsr_multigrid.multigrid.sampling.CurriculumBatchSampler`, which the
entry point :mod:`vsr_multigrid.basicsr_ext.train` puts around BasicSR's
``EnlargedSampler``. Under BasicSR's own ``basicsr/train.py`` (plain integer
indices) it refuses to run rather than train the stock shape silently.

Differences from the stock class, all for data it cannot train on:

- clips may have any length: the meta file's frame count is used where the
  stock class assumes REDS' 100 frames (a start too late for the clip is
  redrawn, as the stock class does for its 100);
- ``val_partition: none`` keeps every clip of the meta file (the data tool's
  meta files list training clips only); ``REDS4``/``official`` as in BasicSR;
- every frame the samples can draw is checked before training
  (:meth:`missing_frames`), on disk and in LMDB.
"""
import os
import os.path as osp
import random
import re
from typing import Dict, List, Optional, Tuple

from vsr_multigrid.compat.basicsr import import_basicsr

import_basicsr()
import torch  # noqa: E402
from basicsr.data.reds_dataset import REDSRecurrentDataset  # noqa: E402
from basicsr.data.transforms import augment, paired_random_crop  # noqa: E402
from basicsr.data.vimeo90k_dataset import Vimeo90KRecurrentDataset  # noqa: E402
from basicsr.utils import FileClient, imfrombytes, img2tensor  # noqa: E402
from basicsr.utils.registry import DATASET_REGISTRY  # noqa: E402

MULTIGRID_KEY = 'multigrid'


def _shaped_item(dataset, item) -> Tuple[int, int, int]:
    if isinstance(item, (tuple, list)) and len(item) == 3:
        return tuple(int(v) for v in item)
    raise TypeError(
        f'{type(dataset).__name__} serves (index, num_frames, gt_size) items drawn by the '
        f'curriculum batch sampler, got {item!r}: train with `python -m '
        'vsr_multigrid.basicsr_ext.train -opt OPTIONS.yml` (BasicSR\'s own train.py '
        'would train the stock shape and ignore the multigrid block)')


def _read_meta(path: str) -> Dict[str, Tuple[int, Optional[Tuple[int, int]]]]:
    """``{clip: (frames, (h, w) or None)}`` from ``<clip> <frames> (h,w,c)`` lines."""
    clips = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2 or not parts[1].isdigit():
                raise ValueError(f'{path}:{number}: expected "<clip> <frames> (h,w,c)", '
                                 f'got {line.strip()!r}')
            match = re.search(r'\((\d+),\s*(\d+)', line)
            clips[parts[0]] = (int(parts[1]),
                               (int(match.group(1)), int(match.group(2))) if match else None)
    return clips


def _multigrid_block(opt: dict) -> Optional[dict]:
    multigrid = opt.pop(MULTIGRID_KEY, None)
    if multigrid is not None and (not isinstance(multigrid, dict) or 'preset' not in multigrid):
        raise ValueError(
            f"datasets.train.{MULTIGRID_KEY}: expected a mapping with a preset, e.g. "
            f"`{MULTIGRID_KEY}: {{preset: vsr}}`, got {multigrid!r}")
    return None if multigrid is None else dict(multigrid)


def missing_frames(dataset, names: List[str], suffix: str) -> List[str]:
    """Which of ``names`` (``a/b`` keys, files ``<root>/a/b<suffix>``) are
    absent from the LR or GT data. Disk: one listing per folder. LMDB: the
    keys of each database's ``meta_info.txt`` (BasicSR's layout)."""
    missing = []
    for root in (dataset.opt['dataroot_lq'], dataset.opt['dataroot_gt']):
        root = str(root)
        if dataset.is_lmdb:
            meta = osp.join(root, 'meta_info.txt')
            if not osp.isfile(meta):
                missing.append(meta)
                continue
            with open(meta) as f:
                present = {line.split()[0][:-len(suffix)] for line in f if line.strip()}
            missing += [f'{root}:{name}' for name in names if name not in present]
        else:
            listings = {}
            for name in names:
                folder, file = osp.split(osp.join(root, name + suffix))
                if folder not in listings:
                    listings[folder] = set(os.listdir(folder)) if osp.isdir(folder) else set()
                if file not in listings[folder]:
                    missing.append(osp.join(folder, file))
    return missing


def check_frames(dataset) -> None:
    """Raise before training if a frame a sample can draw is missing."""
    missing = dataset.missing_frames()
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} frame(s) listed by {dataset.opt["meta_info_file"]} are missing, '
            f'e.g. {", ".join(missing[:3])}; fix the data or the meta file')


@DATASET_REGISTRY.register()
class MultigridREDSRecurrentDataset(REDSRecurrentDataset):
    """``REDSRecurrentDataset`` whose clip length and crop follow the curriculum.

    Args:
        opt (dict): The stock options plus ``multigrid`` (dict, the schedule
            config, e.g. ``{preset: vsr}``; without it the stock shape is
            served for plain indices, which makes it the stock baseline on
            data the stock class cannot read); ``val_partition`` may also be
            ``none``.
    """

    def __init__(self, opt):
        opt = dict(opt)
        self.multigrid = _multigrid_block(opt)
        for key in ('meta_info_file', 'num_frame', 'gt_size', 'dataroot_gt', 'dataroot_lq'):
            if key not in opt:
                raise ValueError(f'datasets.train.{key} is required by {type(self).__name__}')
        keep_all = str(opt.get('val_partition')).lower() == 'none'
        super().__init__(dict(opt, val_partition='REDS4') if keep_all else opt)
        self.opt = opt
        self.clips = _read_meta(opt['meta_info_file'])
        if keep_all:
            self.keys = [f'{clip}/{i:08d}' for clip, (count, _) in self.clips.items()
                         for i in range(count)]
        if not self.keys:
            raise ValueError(f"{opt['meta_info_file']}: no training clips left after "
                             f"val_partition={opt.get('val_partition')!r}")
        self.max_interval = max(self.interval_list)
        self._check_clip_lengths(self.num_frame)

    # -- what the curriculum needs to know about the stock data -----------
    @property
    def base_num_frames(self) -> int:
        return int(self.num_frame)

    @property
    def base_crop_size(self) -> int:
        return int(self.opt['gt_size'])

    def min_frame_side(self) -> Optional[int]:
        """Smallest GT frame side in the meta file, if it lists sizes."""
        sides = [min(size) for _, size in self.clips.values() if size]
        return min(sides) if sides else None

    def _train_clips(self) -> List[str]:
        return sorted({key.split('/')[0] for key in self.keys})

    def _check_clip_lengths(self, num_frames: int) -> None:
        span = num_frames * self.max_interval
        short = [c for c in self._train_clips() if self.clips[c][0] < span]
        if short:
            raise ValueError(
                f'clip(s) {short[:3]} of {self.opt["meta_info_file"]} have fewer than '
                f'{span} frames (num_frame {num_frames} x interval {self.max_interval})')

    # -- the frames ---------------------------------------------------------
    def frame_names(self) -> List[str]:
        """``clip/frame`` of every frame the training samples can draw."""
        return [f'{clip}/{i:08d}' for clip in self._train_clips()
                for i in range(self.clips[clip][0])]

    def missing_frames(self) -> List[str]:
        return missing_frames(self, self.frame_names(), '.png')

    def check_frames(self) -> None:
        check_frames(self)

    # -- shape-carrying items ------------------------------------------------
    def __getitem__(self, item):
        if self.multigrid is None and not isinstance(item, (tuple, list)):
            item = (item, self.num_frame, self.opt['gt_size'])  # the stock shape
        index, num_frames, gt_size = _shaped_item(self, item)
        key = self.keys[index]
        clip, frame = key.split('/')
        length = self.clips[clip][0]
        span = num_frames * self.max_interval
        if span > length:
            raise ValueError(f'clip {clip!r} has {length} frames but the curriculum asks '
                             f'for {num_frames} at interval up to {self.max_interval}')
        start = int(frame)
        if start > length - span:  # the stock rule, for this clip's length
            start = random.randint(0, length - span)
        saved = self.keys[index], self.num_frame, self.opt['gt_size']
        self.keys[index], self.num_frame, self.opt['gt_size'] = (
            f'{clip}/{start:08d}', num_frames, gt_size)
        try:
            return super().__getitem__(index)
        finally:
            self.keys[index], self.num_frame, self.opt['gt_size'] = saved


@DATASET_REGISTRY.register()
class MultigridVimeo90KRecurrentDataset(Vimeo90KRecurrentDataset):
    """``Vimeo90KRecurrentDataset`` whose clip length and crop follow the curriculum.

    A sample of ``T`` frames is a random window of ``T`` consecutive frames of
    the septuplet (all 7 at the stock shape), reversed with
    ``random_reverse``, cropped, flipped and rotated as the stock class does
    it, and mirrored to ``2T`` with ``flip_sequence``. The stock class reads
    a fixed list of 7 frames (and keeps a random reversal for later samples);
    this one reads the window. Keys ``<clip>/<seq>`` from the meta file,
    frames ``im1.png``..``im7.png`` on disk or ``<clip>/<seq>/im<n>`` in LMDB.

    Args:
        opt (dict): The stock options plus ``multigrid`` (optional, as for
            :class:`MultigridREDSRecurrentDataset`); ``num_frame`` defaults to 7.
    """

    SEQUENCE_LENGTH = 7

    def __init__(self, opt):
        opt = dict(opt)
        self.multigrid = _multigrid_block(opt)
        opt.setdefault('num_frame', self.SEQUENCE_LENGTH)
        opt.setdefault('flip_sequence', False)
        for key in ('meta_info_file', 'gt_size', 'dataroot_gt', 'dataroot_lq'):
            if key not in opt:
                raise ValueError(f'datasets.train.{key} is required by {type(self).__name__}')
        super().__init__(opt)
        self.sizes = [size for _, size in _read_meta(opt['meta_info_file']).values() if size]

    @property
    def base_num_frames(self) -> int:
        """Frames listed per sample (7); ``flip_sequence`` doubles what the model sees."""
        return self.SEQUENCE_LENGTH

    @property
    def frames_multiplier(self) -> int:
        return 2 if self.flip_sequence else 1

    @property
    def base_crop_size(self) -> int:
        return int(self.opt['gt_size'])

    def min_frame_side(self) -> Optional[int]:
        return min(min(size) for size in self.sizes) if self.sizes else None

    def missing_frames(self) -> List[str]:
        names = [f'{key}/im{n}' for key in self.keys
                 for n in range(1, self.SEQUENCE_LENGTH + 1)]
        return missing_frames(self, names, '.png')

    def check_frames(self) -> None:
        check_frames(self)

    def __getitem__(self, item):
        if self.multigrid is None and not isinstance(item, (tuple, list)):
            item = (item, self.SEQUENCE_LENGTH, self.opt['gt_size'])
        index, num_frames, gt_size = _shaped_item(self, item)
        if not 1 <= num_frames <= self.SEQUENCE_LENGTH:
            raise ValueError(f'a Vimeo-90K sample has {self.SEQUENCE_LENGTH} frames; the '
                             f'curriculum asks for {num_frames}')
        if self.file_client is None:
            backend = dict(self.io_backend_opt)
            self.file_client = FileClient(backend.pop('type'), **backend)
        key = self.keys[index]
        start = random.randint(1, self.SEQUENCE_LENGTH - num_frames + 1)
        frames = list(range(start, start + num_frames))
        if self.random_reverse and random.random() < 0.5:
            frames.reverse()
        lqs, gts = [], []
        for n in frames:
            if self.is_lmdb:
                lq_path = gt_path = f'{key}/im{n}'
            else:
                lq_path = osp.join(self.lq_root, key, f'im{n}.png')
                gt_path = osp.join(self.gt_root, key, f'im{n}.png')
            lqs.append(imfrombytes(self.file_client.get(lq_path, 'lq'), float32=True))
            gts.append(imfrombytes(self.file_client.get(gt_path, 'gt'), float32=True))
        gts, lqs = paired_random_crop(gts, lqs, gt_size, self.opt['scale'], gt_path)
        images = img2tensor(augment(lqs + gts, self.opt['use_hflip'], self.opt['use_rot']))
        lq, gt = torch.stack(images[:num_frames]), torch.stack(images[num_frames:])
        if self.flip_sequence:
            lq, gt = torch.cat([lq, lq.flip(0)]), torch.cat([gt, gt.flip(0)])
        return {'lq': lq, 'gt': gt, 'key': key}
