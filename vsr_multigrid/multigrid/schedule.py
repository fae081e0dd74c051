"""Multigrid training curricula for video super-resolution, computed up front.

A curriculum says, for every iteration of a training run, the per-GPU batch
size ``B``, the clip length ``T`` (frames) and the square GT crop ``S``
(pixels), plus a factor for the learning rate. It is a pure function of the
config: no randomness and no communication, so every rank (and every resumed
run) derives the same schedule.

Presets (``cfg['preset']``):

* ``'vsr'``: Lin et al., "Accelerating the Training of Video
  Super-Resolution Models" (AAAI 2023). Spatial stages go from a small to the
  full crop; inside each stage the clip length grows ``T/2, 3T/4, T``.
* ``'slowfast'``: Wu et al., "A Multigrid Method for Efficiently Training
  Video Models" (CVPR 2020): long cycles of coarse-to-fine shapes repeated in
  every LR stage, optional short cycles of smaller crops batch by batch, and a
  fine-tune at the stock shape. :func:`slowfast_long_cycle_epochs` reproduces
  the paper's epoch-level schedule exactly.
* ``'large_batch'``: the stock shape with a ``batch_multiplier`` times larger
  batch (the usual baseline for "same samples, fewer iterations").
* ``'phases'``: an explicit list of ``(fraction, B, T, S)``.

Sizes keep roughly the stock *volume* per batch (``B * T * S**2``), so a
coarse shape runs about as fast per iteration as the stock one but sees more
clips; the saving comes from needing fewer iterations for the same number of
clips (see :attr:`Schedule.compute_ratio`).

Modules: :mod:`.shapes` (the data model), :mod:`.checks` (config validation),
:mod:`.presets` (one builder per preset), :mod:`.slowfast` (SlowFast's
epoch-level schedule); this module builds a schedule from a config.
"""
from typing import Optional

from .checks import WARMUP_ON, check_choice, check_int, check_warmup_start, is_int, lr_scale
from .presets import BUILDERS, PRESET_DEFAULTS, assemble
from .shapes import Phase, Schedule, Shape
from .slowfast import slowfast_long_cycle_epochs

__all__ = [
    'Shape', 'Phase', 'Schedule', 'build_schedule', 'lr_scale',
    'slowfast_long_cycle_epochs', 'PRESET_DEFAULTS',
]


def build_schedule(cfg: dict, base: Shape, stock_iters: int, *, scale: int = 4,
                   min_frames: int = 2, max_crop: Optional[int] = None,
                   flow_multiple: Optional[int] = None) -> Schedule:
    """Compute a whole curriculum from a config.

    Budgets: ``'samples'`` keeps the clips seen equal to the stock run's,
    ``N = stock_iters * B0 * epoch_factor``. Phase ``j`` gets share ``f_j``
    and runs the fewest iterations (at least one) that bring the clips seen so
    far to ``N * (f_1 + ... + f_j)``, i.e. about ``ceil(N * f_j / B)`` with
    the rounding carried over, so the total exceeds ``N`` by less than one
    batch. ``'iterations'`` splits ``stock_iters * epoch_factor`` iterations
    by the fractions with cumulative rounding (exact total).

    ``'slowfast'`` in iterations (budget ``'samples'``): the epoch unit is one
    stock iteration (``B0`` clips), so ``max_epoch = stock_iters`` and the
    SlowFast steps are ``lr_steps * stock_iters`` (default ``(0.0, 0.8)``:
    one long-cycle LR stage over the first 80% of the stock run, then the
    fine-tune at the stock shape; the Kinetics schedule is ``lr_steps=(0,
    94/239, 154/239, 196/239)``). Phase lengths ``E`` are SlowFast's epochs in
    that unit, unrounded, times ``epoch_factor``; a phase whose cycle has
    batch sizes ``b_1..b_k`` then targets ``E * B0`` clips, i.e. about
    ``ceil(E * B0 / mean(b))`` iterations (``ceil(E / m)`` without short
    cycles or cap), converted as for the ``'samples'`` budget. Shapes use the
    crop-rounded sizes: ``T = round(T0 * t)``, ``S = round_down(round(S0 *
    s))``, ``m = max(1, round(T0 * S0**2 / (T * S**2)))``, ``B = B0 * m``;
    short-cycle crops ``round_down(round(S0 * f))`` (never above ``S``) with
    batch ``B * round((S / crop)**2)``; ``max_batch_size`` caps every batch.
    The average multipliers SlowFast splits epochs by are those of the actual
    batches, so every shape of an LR stage gets equal iterations. The LR
    factor follows the long-cycle batch; short-cycle batches leave it alone.

    Crops are rounded down to ``crop_multiple`` (default ``scale * 4``: 16 GT
    px = 4 LR px at x4, so LR crops stay friendly to SPyNet's downsampling
    pyramid), at least one multiple; the stock crop itself is kept.

    ``flow_multiple`` is the LR side the model's flow network resizes its
    input up to a multiple of (SPyNet: 32). A crop whose LR side is not a
    multiple pays flow estimation for the larger size, so a curriculum stage
    at LR 16 or 24 px costs as much flow as one at 32 px; every such crop
    (the stock one included) gets a note, which the loop logs as a warning
    and the table prints. Crops are not changed: pick ``crop_factors`` (or
    ``crop_multiple = scale * flow_multiple``) that avoid it.

    Args:
        cfg (dict): ``dict(preset=..., **keys)``; see :data:`PRESET_DEFAULTS`.
        base (Shape): Stock per-GPU batch size, clip length and GT crop.
        stock_iters (int): Iterations of the stock run.
        scale (int): Super-resolution upscale factor.
        min_frames (int): Shortest clip the model accepts.
        max_crop (int, optional): Smallest frame side of the training data in
            GT pixels; larger crops are rejected.
        flow_multiple (int, optional): LR multiple the model's flow network
            resizes its input up to; crops that pay for it get a note.

    Returns:
        Schedule: The curriculum.

    Raises:
        ValueError: On an unknown preset or key, or a config that cannot
            train (sizes, fractions, clip lengths, crops, empty phases).
    """
    if not isinstance(cfg, dict):
        raise ValueError(f'cfg must be a dict such as dict(preset=\'vsr\'), got {cfg!r}')
    cfg = dict(cfg)
    preset = cfg.pop('preset', None)
    if preset not in PRESET_DEFAULTS:
        raise ValueError(f"cfg key 'preset': expected one of {tuple(PRESET_DEFAULTS)}, "
                         f'got {preset!r}')
    defaults = PRESET_DEFAULTS[preset]
    unknown = sorted(set(cfg) - set(defaults))
    if unknown:
        raise ValueError(f"cfg key(s) {', '.join(map(repr, unknown))} not allowed for "
                         f"preset '{preset}'; allowed: preset, {', '.join(defaults)}")
    if not isinstance(base, Shape) or not all(
            is_int(v) and v > 0 for v in (base.batch_size, base.num_frames, base.crop_size)):
        raise ValueError(f'base: expected a Shape of positive ints, got {base!r}')
    check_int('stock_iters', stock_iters, 1)
    check_int('scale', scale, 1)
    check_int('min_frames', min_frames, 1)
    if max_crop is not None:
        check_int('max_crop', max_crop, 1)
        if base.crop_size > max_crop:
            raise ValueError(f"'max_crop': the stock crop {base.crop_size} exceeds "
                             f'max_crop={max_crop} (smallest training frame side, GT px)')
    if base.num_frames < min_frames:
        raise ValueError(f"'min_frames': the stock clip length {base.num_frames} is below "
                         f'min_frames={min_frames}')
    if base.crop_size % scale:
        raise ValueError(f'the stock GT crop {base.crop_size} (PairedRandomCrop.gt_patch_size) '
                         f'is not divisible by the scale {scale}: the LR crop would not be '
                         f'whole; use e.g. {base.crop_size // scale * scale}')
    cfg = {**defaults, **cfg}
    multiple = scale * 4
    if 'crop_multiple' in cfg and cfg['crop_multiple'] is not None:
        multiple = check_int('crop_multiple', cfg['crop_multiple'], 1)
        if multiple % scale:
            raise ValueError(f"cfg key 'crop_multiple': {multiple} is not a multiple of the "
                             f'scale {scale}, so LR crops would not be whole')
    warmup_start = check_warmup_start(cfg['warmup_start'])
    warmup_on = check_choice('warmup_on', cfg['warmup_on'], WARMUP_ON)

    specs, budget, notes = BUILDERS[preset](cfg, base, stock_iters, min_frames, max_crop,
                                            multiple)
    total = sum(n for *_, n, _ in specs)
    warmup = cfg['warmup_iters']
    if preset == 'large_batch' and warmup is None:
        warmup = max(1, int(round(0.05 * total)))  # 5% of the run, as in Goyal et al.
    warmup = check_int('warmup_iters', warmup, 0)
    if flow_multiple is not None:
        check_int('flow_multiple', flow_multiple, 1)
        notes = list(notes) + flow_padding_notes(specs, base, scale, flow_multiple)
    return Schedule(phases=assemble(specs, base, warmup, warmup_start, warmup_on), base=base,
                    stock_iters=stock_iters, budget=budget, preset=preset, notes=tuple(notes))


def flow_padding_notes(specs, base: Shape, scale: int, flow_multiple: int) -> list:
    """One note per crop (stock first) whose LR side the flow network pads."""
    crops = [base.crop_size] + sorted({s.crop_size for _, _, shapes, _, _ in specs
                                       for s in shapes} - {base.crop_size})
    notes = []
    for crop in crops:
        lr_side = crop // scale
        padded = -(-lr_side // flow_multiple) * flow_multiple
        if padded != lr_side:
            who = 'the stock crop' if crop == base.crop_size else 'crop'
            notes.append(
                f'{who} S{crop} (LR {lr_side} px) is resized to LR {padded} px by the flow '
                f'network (multiple of {flow_multiple}): its flow costs as much as '
                f'S{padded * scale}; crops whose LR side is a multiple of {flow_multiple} '
                'pay only for trained pixels')
    return notes
