"""Frames datasets whose clip length and crop follow a per-batch shape.

The multigrid batch sampler yields ``(index, num_frames, crop_size)`` tuples;
:class:`MultigridFramesDataset` turns them into the sample dict fields the
MMagic pipeline reads: ``num_input_frames`` (read by
``GenerateSegmentIndices``, REDS-style data) or a sub-sampled frame list
(Vimeo-style ``load_frames_list`` data, before ``MirrorSequence``), and
``gt_patch_size`` (read by :class:`MultigridPairedRandomCrop`). The shape
travels with the index, so worker processes and prefetching need no shared
state.
"""
import os.path as osp
import re
from collections import defaultdict
from typing import Dict, List, Optional

import cv2
import numpy as np
from mmagic.datasets import BasicFramesDataset
from mmagic.datasets.transforms import (GenerateSegmentIndices, LoadImageFromFile,
                                        MirrorSequence, PairedRandomCrop, SetValues)
from mmagic.registry import DATASETS, TRANSFORMS


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` whose errors name the file.

    A truncated or corrupt frame otherwise fails deep inside OpenCV
    (``!_src.empty() in function 'cvtColor'``) with no file name, in a
    worker, whenever that frame happens to be drawn.
    """

    def _load_image(self, filename):
        try:
            img = super()._load_image(filename)
        except (cv2.error, OSError, ValueError) as error:
            raise ValueError(f'cannot decode frame {filename}: {error}') from error
        if img is None or img.size == 0:
            raise ValueError(f'cannot decode frame {filename}: empty or truncated image')
        return img


@TRANSFORMS.register_module()
class MultigridPairedRandomCrop(PairedRandomCrop):
    """``PairedRandomCrop`` that honours ``results['gt_patch_size']``.

    Without that key it behaves exactly like ``PairedRandomCrop``.
    """

    def transform(self, results: dict) -> dict:
        size = results.get('gt_patch_size')
        if size is None:
            return super().transform(results)
        default, self.gt_patch_size = self.gt_patch_size, int(size)
        try:
            return super().transform(results)
        finally:
            self.gt_patch_size = default


@DATASETS.register_module()
class MultigridFramesDataset(BasicFramesDataset):
    """``BasicFramesDataset`` that accepts ``(index, frames, crop)`` indices.

    Takes the same arguments as ``BasicFramesDataset``. A stock
    ``PairedRandomCrop`` in the pipeline is replaced by
    :class:`MultigridPairedRandomCrop` with the same settings, and a stock
    ``LoadImageFromFile`` by :class:`CheckedLoadImageFromFile` (errors name
    the file), so a stock config only changes the dataset ``type``. Plain
    integer indices behave as in the parent class (validation, stock
    sampler).

    Frames are counted as the stock config counts them: for Vimeo-style
    samples that is the frame list *before* ``MirrorSequence``, which then
    doubles the clip the model sees (:attr:`frames_multiplier`).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shape = None
        self._crop = None
        transforms = self.pipeline.transforms
        for i, transform in enumerate(transforms):
            if type(transform) is PairedRandomCrop:
                transforms[i] = MultigridPairedRandomCrop(
                    transform.gt_patch_size, transform.lq_key, transform.gt_key)
            elif type(transform) is LoadImageFromFile:
                checked = CheckedLoadImageFromFile.__new__(CheckedLoadImageFromFile)
                checked.__dict__.update(transform.__dict__)
                transforms[i] = checked
            if isinstance(transforms[i], MultigridPairedRandomCrop):
                self._crop = transforms[i]

    # -- what the curriculum needs to know about the stock data -----------
    @property
    def base_num_frames(self) -> int:
        """Clip length of the stock config."""
        if 'img' in self.load_frames_list:
            return len(self.load_frames_list['img'])
        if self.num_input_frames is None:
            raise ValueError(
                'MultigridFramesDataset needs num_input_frames (REDS-style) '
                'or load_frames_list (Vimeo-style) to know the base clip length')
        return int(self.num_input_frames)

    @property
    def base_crop_size(self) -> int:
        """GT crop of the stock pipeline's ``PairedRandomCrop``."""
        return int(self._require_crop().gt_patch_size)

    def _require_crop(self) -> MultigridPairedRandomCrop:
        if self._crop is None:
            raise ValueError(
                'the training pipeline has no PairedRandomCrop, so the '
                "curriculum's crop size cannot be applied; add "
                "dict(type='PairedRandomCrop', gt_patch_size=...)")
        return self._crop

    @property
    def frames_multiplier(self) -> int:
        """Frames the model sees per listed frame: 2 after ``MirrorSequence``."""
        return 2 if any(isinstance(t, MirrorSequence)
                        for t in self.pipeline.transforms) else 1

    @property
    def scale(self) -> int:
        """Upscale factor set by the pipeline's ``SetValues(scale=...)``."""
        for transform in self.pipeline.transforms:
            if isinstance(transform, SetValues) and 'scale' in transform.dictionary:
                return int(transform.dictionary['scale'])
        return 4

    def min_frame_side(self) -> Optional[int]:
        """Smallest GT frame side listed in the annotation file, if any.

        REDS-style meta files carry ``(h,w,c)`` per clip; without them the
        curriculum cannot check crops against the data before training.
        """
        sides = [min(size) for _, size in self._annotation().values() if size]
        return min(sides) if sides else None

    def _annotation(self) -> Dict[str, tuple]:
        """``{clip: (frame count or None, (h, w) or None)}`` from the lines
        ``<clip> <frames> (h,w,c)`` of a REDS-style annotation file; empty
        without one (or before it exists: a lazily built dataset)."""
        if not self.use_ann_file or not osp.isfile(self.ann_file):
            return {}
        entries = {}
        with open(self.ann_file) as f:
            for line in f:
                parts = line.split()
                if not parts:
                    continue
                count = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
                match = re.search(r'\((\d+),\s*(\d+)', line)
                size = (int(match.group(1)), int(match.group(2))) if match else None
                entries[parts[0]] = (count, size)
        return entries

    # -- the frames on disk ------------------------------------------------
    def frame_files(self) -> Dict[str, List[str]]:
        """Every frame file the training samples can draw, per folder.

        REDS-style clips (a folder per clip, ``GenerateSegmentIndices`` in the
        pipeline): frames ``start_idx .. start_idx + n - 1`` of every clip in
        the LR and the GT folder, ``n`` being the frame count of the
        annotation file where it lists one (else the count of the folder).
        Vimeo-style samples: their frame lists.
        """
        segment = next((t for t in self.pipeline.transforms
                        if isinstance(t, GenerateSegmentIndices)), None)
        counts = {clip: count for clip, (count, _) in self._annotation().items()
                  if count is not None}
        files = defaultdict(list)
        for index in range(len(self)):
            info = super().get_data_info(index)
            for key in ('img', 'gt'):
                paths = info.get(f'{key}_path')
                if isinstance(paths, list):
                    for path in paths:
                        files[osp.dirname(path)].append(osp.basename(path))
                elif paths is not None and segment is not None:
                    clip = info['key']
                    count = counts.get(clip, info.get('sequence_length'))
                    files[osp.join(paths, clip)] += [
                        segment.filename_tmpl.format(segment.start_idx + v)
                        for v in range(count or 0)]
        return dict(files)

    def missing_frames(self, files: Optional[Dict[str, List[str]]] = None) -> List[str]:
        """Paths of frames the samples can draw that are not on disk.

        One directory listing per folder, so it is cheap enough to run at
        every start-up (REDS: 270 listings). ``files``: the result of
        :meth:`frame_files`, if the caller has it already.
        """
        missing = []
        for folder, names in sorted((files or self.frame_files()).items()):
            try:
                present = set(self.file_backend.list_dir_or_file(folder, list_dir=False))
            except (FileNotFoundError, NotADirectoryError):
                present = set()
            missing += [osp.join(folder, n) for n in names if n not in present]
        return missing

    def check_frames(self) -> None:
        """Raise before training if a frame a sample can draw is missing."""
        missing = self.missing_frames()
        if missing:
            shown = ', '.join(missing[:3])
            raise FileNotFoundError(
                f'{len(missing)} frame(s) listed by {self.ann_file or "the data folder"} '
                f'are missing, e.g. {shown}; fix the data or the annotation file '
                '(tools/verify_dataset.py checks a data set without training)')

    # -- shape-carrying indices --------------------------------------------
    def __getitem__(self, idx):
        if isinstance(idx, (tuple, list)):
            index, num_frames, crop_size = idx
            self._shape = (int(num_frames), int(crop_size))
            try:
                return super().__getitem__(int(index))
            finally:
                self._shape = None
        return super().__getitem__(idx)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        if self._shape is None:
            return info
        num_frames, crop_size = self._shape
        self._require_crop()
        if isinstance(info.get('img_path'), list):
            _subsample_frame_lists(info, num_frames)
        else:
            length = info.get('sequence_length')
            if length is not None and num_frames > length:
                raise ValueError(
                    f'clip {info.get("key")!r} has {length} frames but the '
                    f'curriculum asks for {num_frames}')
            info['num_input_frames'] = num_frames
        info['gt_patch_size'] = crop_size
        return info


def _subsample_frame_lists(info: dict, num_frames: int) -> None:
    """Keep a random window of ``num_frames`` consecutive frames (Vimeo-style).

    The same window is applied to the GT list when it is a full sequence; a
    centre-frame GT (one path) cannot follow a shorter clip and is rejected.
    """
    lq = info['img_path']
    if num_frames > len(lq):
        raise ValueError(f'sample {info.get("key")!r} lists {len(lq)} frames '
                         f'but the curriculum asks for {num_frames}')
    start = np.random.randint(0, len(lq) - num_frames + 1)
    info['img_path'] = lq[start:start + num_frames]
    info['num_input_frames'] = num_frames
    gt = info.get('gt_path')
    if isinstance(gt, list) and len(gt) == len(lq):
        info['gt_path'] = gt[start:start + num_frames]
        info['num_output_frames'] = num_frames
    elif num_frames != len(lq):
        raise ValueError(
            'a shorter clip needs one GT frame per input frame; this dataset '
            f'lists {len(gt) if isinstance(gt, list) else 1} GT frame(s) for '
            f'{len(lq)} inputs (key {info.get("key")!r})')
