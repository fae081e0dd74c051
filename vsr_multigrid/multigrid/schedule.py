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
"""
import bisect
import math
import operator
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = [
    'Shape', 'Phase', 'Schedule', 'build_schedule', 'lr_scale',
    'slowfast_long_cycle_epochs', 'PRESET_DEFAULTS',
]

# Float noise (e.g. 0.1 * 30 = 3.0000000000000004) must not add an iteration.
_EPS = 1e-9
_FRACTION_TOL = 1e-6
_LR_SCALINGS = ('linear', 'sqrt', 'none')
_BUDGETS = ('samples', 'iterations')

#: Allowed keys and their defaults, per preset. ``crop_multiple=None`` means
#: ``scale * 4`` (see :func:`build_schedule`); ``max_batch_size=None`` means
#: ``4 * B0`` for ``'vsr'`` and no cap for ``'slowfast'``.
PRESET_DEFAULTS: Dict[str, dict] = {
    'vsr': dict(
        crop_factors=(0.5, 0.75, 1.0),
        frame_factors=(0.5, 0.75, 1.0),
        stage_fractions=(0.25, 0.25, 0.5),
        max_batch_size=None,
        keep_volume=True,
        lr_scaling='linear',
        warmup_iters=0,
        warmup_start=0.1,
        budget='samples',
        epoch_factor=1.0,
        crop_multiple=None,
    ),
    'slowfast': dict(
        long_cycle=True,
        long_cycle_factors=((0.25, 0.5 ** 0.5), (0.5, 0.5 ** 0.5), (0.5, 1), (1, 1)),
        short_cycle=True,
        short_cycle_factors=(0.5, 0.5 ** 0.5),
        lr_steps=(0.0, 0.8),
        epoch_factor=1.5,
        lr_scaling='linear',
        max_batch_size=None,
        warmup_iters=0,
        warmup_start=0.1,
        crop_multiple=None,
    ),
    'large_batch': dict(
        batch_multiplier=2,
        lr_scaling='linear',
        warmup_iters=None,
        warmup_start=0.1,
        epoch_factor=1.0,
    ),
    'phases': dict(
        phases=None,
        budget='samples',
        epoch_factor=1.0,
        lr_scaling='linear',
        warmup_iters=0,
        warmup_start=0.1,
        crop_multiple=None,
    ),
}


# -- data model -------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    """One batch shape.

    Attributes:
        batch_size (int): Clips per GPU.
        num_frames (int): Clip length ``T`` in frames.
        crop_size (int): Side ``S`` of the square GT crop, in pixels.
    """

    batch_size: int
    num_frames: int
    crop_size: int

    @property
    def volume(self) -> int:
        """GT pixels per batch, ``B * T * S**2`` (the compute proxy)."""
        return self.batch_size * self.num_frames * self.crop_size ** 2


@dataclass(frozen=True)
class Phase:
    """A contiguous run of iterations that cycles through fixed shapes.

    Attributes:
        start_iter (int): First iteration (0-based) of the phase.
        num_iters (int): Number of iterations, > 0.
        shapes (tuple[Shape, ...]): Cycled batch by batch: iteration ``i``
            uses ``shapes[(i - start_iter) % len(shapes)]``. One shape is a
            fixed shape; SlowFast short cycles have three.
        lr_factor (float): Multiplies the stock LR during the phase
            (batch-size LR scaling).
        warmup_iters (int): Linear warm-up length at the start of the phase
            (0 = none). At phase iteration ``k < warmup_iters`` the factor is
            ``lr_factor * (w0 + (1 - w0) * (k + 1) / warmup_iters)`` with
            ``w0 = warmup_start``, so the last warm-up iteration already uses
            the full ``lr_factor``.
        stage (int): Spatial stage (``'vsr'``) or LR stage (``'slowfast'``),
            for display.
        name (str): Display name, e.g. ``'S128-T8'``.
        warmup_start (float): ``w0`` above.
    """

    start_iter: int
    num_iters: int
    shapes: Tuple[Shape, ...]
    lr_factor: float
    warmup_iters: int
    stage: int
    name: str
    warmup_start: float = 0.1

    @property
    def end_iter(self) -> int:
        """One past the last iteration of the phase."""
        return self.start_iter + self.num_iters

    @property
    def samples(self) -> int:
        """Clips seen during the whole phase."""
        return _cycle_sum(self.shapes, self.num_iters, _batch)

    @property
    def volume(self) -> int:
        """Sum of batch volumes over the whole phase."""
        return _cycle_sum(self.shapes, self.num_iters, _volume)


@dataclass(frozen=True)
class Schedule:
    """A whole curriculum: contiguous phases starting at iteration 0.

    Attributes:
        phases (tuple[Phase, ...]): The phases, in order.
        base (Shape): The stock shape ``(B0, T0, S0)``.
        stock_iters (int): Iterations of the stock run.
        budget (str): ``'samples'`` or ``'iterations'``: what the curriculum
            keeps equal (times ``epoch_factor``) to the stock run.
        preset (str): The preset that built it.
    """

    phases: Tuple[Phase, ...]
    base: Shape
    stock_iters: int
    budget: str
    preset: str

    def __post_init__(self):
        if not self.phases:
            raise ValueError('Schedule: phases must not be empty')
        expected = 0
        for index, phase in enumerate(self.phases):
            if phase.start_iter != expected:
                raise ValueError(f'Schedule: phase {index} ({phase.name}) starts at '
                                 f'{phase.start_iter}, expected {expected} (phases must be '
                                 'contiguous from 0)')
            if phase.num_iters <= 0:
                raise ValueError(f'Schedule: phase {index} ({phase.name}) has '
                                 f'{phase.num_iters} iterations, expected > 0')
            if not phase.shapes:
                raise ValueError(f'Schedule: phase {index} ({phase.name}) has no shapes')
            expected = phase.end_iter

    @cached_property
    def _starts(self) -> List[int]:
        return [p.start_iter for p in self.phases]

    @cached_property
    def _samples_prefix(self) -> List[int]:
        prefix = [0]
        for phase in self.phases:
            prefix.append(prefix[-1] + phase.samples)
        return prefix

    @property
    def total_iters(self) -> int:
        """Iterations of the curriculum."""
        return self.phases[-1].end_iter

    @property
    def total_samples(self) -> int:
        """Clips seen by the whole curriculum (per GPU)."""
        return self._samples_prefix[-1]

    def _check_iter(self, iteration: int, allow_end: bool = False) -> None:
        limit = self.total_iters + (1 if allow_end else 0)
        try:  # ints and int-like (e.g. numpy) values; bools are a mistake
            valid = not isinstance(iteration, bool) and 0 <= operator.index(iteration) < limit
        except TypeError:
            valid = False
        if not valid:
            upper = f'<= {self.total_iters}' if allow_end else f'< {self.total_iters}'
            raise ValueError(f'iteration must be an int with 0 <= iteration {upper} '
                             f'(the curriculum length), got {iteration!r}')

    def phase_index(self, iteration: int) -> int:
        """Index of the phase that contains ``iteration`` (O(log phases))."""
        self._check_iter(iteration)
        return bisect.bisect_right(self._starts, operator.index(iteration)) - 1

    def shape_at(self, iteration: int) -> Shape:
        """Batch shape of ``iteration``; raises ValueError outside the curriculum."""
        phase = self.phases[self.phase_index(iteration)]
        iteration = operator.index(iteration)
        return phase.shapes[(iteration - phase.start_iter) % len(phase.shapes)]

    def lr_factor_at(self, iteration: int) -> float:
        """LR factor of ``iteration``, warm-up included (see :class:`Phase`)."""
        phase = self.phases[self.phase_index(iteration)]
        k = operator.index(iteration) - phase.start_iter
        if k < phase.warmup_iters:
            w0 = phase.warmup_start
            return phase.lr_factor * (w0 + (1.0 - w0) * (k + 1) / phase.warmup_iters)
        return phase.lr_factor

    def samples_before(self, iteration: int) -> int:
        """Clips seen in iterations ``[0, iteration)``; ``iteration`` may equal ``total_iters``."""
        self._check_iter(iteration, allow_end=True)
        iteration = operator.index(iteration)
        if iteration == self.total_iters:
            return self.total_samples
        index = bisect.bisect_right(self._starts, iteration) - 1
        phase = self.phases[index]
        within = _cycle_sum(phase.shapes, iteration - phase.start_iter, _batch)
        return self._samples_prefix[index] + within

    def stock_progress_iter(self, iteration: int) -> float:
        """Where the stock run would be after the same number of clips.

        ``samples_before(iteration) / B0``: following the stock LR curve at
        this point keeps the LR tied to data seen, not to steps taken. With
        ``epoch_factor > 1`` it runs past ``stock_iters`` near the end.
        """
        return self.samples_before(iteration) / self.base.batch_size

    @property
    def compute_ratio(self) -> float:
        """Stock compute over curriculum compute, with batch volume as the proxy."""
        total = sum(p.volume for p in self.phases)
        return self.stock_iters * self.base.volume / total

    def table(self) -> str:
        """Human-readable table of the phases with a totals footer."""
        stock_volume = self.stock_iters * self.base.volume
        total_volume = sum(p.volume for p in self.phases)
        header = ('#', 'phase', 'stage', 'iters', 'B', 'T', 'S', 'lr x', 'warm-up',
                  'samples', 'compute')
        rows = [header]
        for index, p in enumerate(self.phases):
            rows.append((
                str(index), p.name, str(p.stage), f'[{p.start_iter}, {p.end_iter})',
                _join(s.batch_size for s in p.shapes), _join(s.num_frames for s in p.shapes),
                _join(s.crop_size for s in p.shapes), f'{p.lr_factor:.4g}',
                str(p.warmup_iters), str(p.samples), f'{100.0 * p.volume / total_volume:.1f}%'))
        widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
        lines = [f'multigrid curriculum: preset={self.preset} budget={self.budget} '
                 f'base (B, T, S)=({self.base.batch_size}, {self.base.num_frames}, '
                 f'{self.base.crop_size}) stock_iters={self.stock_iters}']
        lines += ['  '.join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                  for row in rows]
        lines.append(
            f'total: {self.total_iters} iters (stock {self.stock_iters}), '
            f'{self.total_samples} samples (stock {self.stock_iters * self.base.batch_size}), '
            f'compute {100.0 * total_volume / stock_volume:.1f}% of stock, '
            f'compute ratio {self.compute_ratio:.3f}x')
        return '\n'.join(lines)

    def to_dict(self) -> dict:
        """JSON-able summary (phases with their shapes, samples and totals)."""
        phases = []
        for p in self.phases:
            phases.append(dict(
                name=p.name, stage=p.stage, start_iter=p.start_iter, num_iters=p.num_iters,
                shapes=[asdict(s) for s in p.shapes], lr_factor=p.lr_factor,
                warmup_iters=p.warmup_iters, warmup_start=p.warmup_start,
                samples=p.samples))
        return dict(preset=self.preset, budget=self.budget, base=asdict(self.base),
                    stock_iters=self.stock_iters, total_iters=self.total_iters,
                    total_samples=self.total_samples, compute_ratio=self.compute_ratio,
                    phases=phases)


def _batch(shape: Shape) -> int:
    return shape.batch_size


def _volume(shape: Shape) -> int:
    return shape.volume


def _cycle_sum(shapes: Sequence[Shape], count: int, value) -> int:
    """Sum ``value(shape)`` over the first ``count`` iterations of a cycle, in O(len(shapes))."""
    cycles, rest = divmod(count, len(shapes))
    return cycles * sum(value(s) for s in shapes) + sum(value(s) for s in shapes[:rest])


def _join(values) -> str:
    values = list(values)
    return str(values[0]) if len(set(values)) == 1 else '/'.join(map(str, values))


# -- small pure helpers -----------------------------------------------------
def lr_scale(batch_size: int, base_batch: int, mode: str) -> float:
    """LR factor for ``batch_size`` relative to the stock ``base_batch``.

    Args:
        batch_size (int): Batch size of the phase.
        base_batch (int): Stock batch size.
        mode (str): ``'linear'`` (``B/B0``), ``'sqrt'`` (``sqrt(B/B0)``) or
            ``'none'`` (1).
    """
    if mode not in _LR_SCALINGS:
        raise ValueError(f"cfg key 'lr_scaling': expected one of {_LR_SCALINGS}, got {mode!r}")
    if batch_size <= 0 or base_batch <= 0:
        raise ValueError(f'lr_scale: batch sizes must be positive, got {batch_size} and '
                         f'{base_batch}')
    ratio = batch_size / base_batch
    return {'linear': ratio, 'sqrt': math.sqrt(ratio), 'none': 1.0}[mode]


def _ceil(value: float) -> int:
    return math.ceil(value - _EPS)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _check_int(key: str, value, minimum: int) -> int:
    if not _is_int(value) or value < minimum:
        raise ValueError(f"cfg key '{key}': expected an int >= {minimum}, got {value!r}")
    return value


def _check_choice(key: str, value, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"cfg key '{key}': expected one of {tuple(choices)}, got {value!r}")
    return value


def _check_positive(key: str, value) -> float:
    if not _is_number(value) or value <= 0:
        raise ValueError(f"cfg key '{key}': expected a positive number, got {value!r}")
    return float(value)


def _check_warmup_start(value) -> float:
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"cfg key 'warmup_start': expected a number in [0, 1], got {value!r}")
    return float(value)


def _check_factors(key: str, values, increasing: bool = True) -> Tuple[float, ...]:
    """Non-empty factors in (0, 1], optionally non-decreasing (coarse to fine)."""
    if not isinstance(values, (list, tuple)) or not values \
            or not all(_is_number(v) and 0 < v <= 1 for v in values):
        raise ValueError(f"cfg key '{key}': expected a non-empty list of numbers in (0, 1], "
                         f'got {values!r}')
    if increasing and any(b < a for a, b in zip(values, values[1:])):
        raise ValueError(f"cfg key '{key}': expected non-decreasing factors (coarse to fine), "
                         f'got {values!r}')
    return tuple(float(v) for v in values)


def _check_fractions(key: str, values, length: Optional[int] = None) -> Tuple[float, ...]:
    if not isinstance(values, (list, tuple)) or not values \
            or not all(_is_number(v) and v > 0 for v in values):
        raise ValueError(f"cfg key '{key}': expected a non-empty list of positive fractions, "
                         f'got {values!r}')
    if length is not None and len(values) != length:
        raise ValueError(f"cfg key '{key}': expected {length} fractions (one per stage), "
                         f'got {len(values)}: {values!r}')
    if abs(sum(values) - 1.0) > _FRACTION_TOL:
        raise ValueError(f"cfg key '{key}': fractions must sum to 1 (tolerance "
                         f'{_FRACTION_TOL}), got sum {sum(values)!r} for {values!r}')
    return tuple(float(v) for v in values)


def _round_crop(crop: float, base_crop: int, multiple: int) -> int:
    """Round a crop down to ``multiple`` (at least one); the stock crop stays as is.

    The stock crop is always legal (the stock run trains with it), so a
    factor that reaches it keeps it exactly even if it is not a multiple.
    """
    if crop >= base_crop:
        return base_crop
    return min(base_crop, max(multiple, int(crop + _EPS) // multiple * multiple))


def _check_shape(key: str, shape: Shape, base: Shape, min_frames: int,
                 max_crop: Optional[int]) -> Shape:
    """Reject shapes the model or the data cannot train with."""
    if shape.batch_size <= 0 or shape.num_frames <= 0 or shape.crop_size <= 0:
        raise ValueError(f"cfg key '{key}': sizes must be positive, got {shape}")
    if shape.num_frames < min_frames:
        raise ValueError(f"cfg key '{key}': clip length T={shape.num_frames} is below "
                         f"min_frames={min_frames} (the model's shortest clip)")
    if shape.num_frames > base.num_frames:
        raise ValueError(f"cfg key '{key}': clip length T={shape.num_frames} exceeds the "
                         f'stock clip length {base.num_frames}')
    if max_crop is not None and shape.crop_size > max_crop:
        raise ValueError(f"cfg key '{key}': crop S={shape.crop_size} exceeds "
                         f'max_crop={max_crop} (smallest training frame side, GT px)')
    return shape


def _iterations_split(total: float, fractions: Sequence[float], key: str) -> List[int]:
    """Split ``total`` iterations by fractions with cumulative rounding (exact total)."""
    ends, cumulative = [], 0.0
    for fraction in fractions:
        cumulative += fraction
        ends.append(int(round(total * cumulative)))
    counts = [b - a for a, b in zip([0] + ends, ends)]
    if any(c <= 0 for c in counts):
        raise ValueError(f"cfg key '{key}': with budget='iterations' a phase gets zero "
                         f'iterations ({counts} of {total:g}); lengthen the run or use '
                         'larger fractions')
    return counts


def _iters_for_samples(targets: Sequence[float],
                       cycles: Sequence[Sequence[Shape]]) -> List[int]:
    """Iterations per phase so that the clips seen track the cumulative targets.

    Phase ``j`` runs the fewest iterations (at least one) that bring the clips
    seen so far to ``sum(targets[:j + 1])``. Overshoot is carried into the
    next phase instead of accumulating, so the total exceeds the budget by
    less than one batch (more only if a phase is forced to its one iteration).
    Short cycles are counted exactly.
    """
    counts, done, goal = [], 0, 0.0
    for target, shapes in zip(targets, cycles):
        goal += target
        need = goal - done
        mean = sum(s.batch_size for s in shapes) / len(shapes)
        num = max(1, _ceil(need / mean))
        # The mean is exact only per whole cycle; fix up within one cycle.
        while num > 1 and _cycle_sum(shapes, num - 1, _batch) >= need - _EPS:
            num -= 1
        while _cycle_sum(shapes, num, _batch) < need - _EPS:
            num += 1
        counts.append(num)
        done += _cycle_sum(shapes, num, _batch)
    return counts


def _assemble(specs, base: Shape, warmup_iters: int, warmup_start: float) -> Tuple[Phase, ...]:
    """Turn ``(name, stage, shapes, num_iters, lr_factor)`` into contiguous phases.

    Warm-up is applied where the phase's batch size (its last shape, which
    sets the LR) differs from the previous phase's; the first phase compares
    with the stock batch. It is clipped to the phase length.
    """
    phases, start, previous = [], 0, base.batch_size
    for name, stage, shapes, num_iters, lr_factor in specs:
        batch = shapes[-1].batch_size
        warmup = min(warmup_iters, num_iters) if batch != previous else 0
        phases.append(Phase(start_iter=start, num_iters=num_iters, shapes=tuple(shapes),
                            lr_factor=float(lr_factor), warmup_iters=warmup, stage=stage,
                            name=name, warmup_start=warmup_start))
        start += num_iters
        previous = batch
    return tuple(phases)


# -- SlowFast, epoch level (exactly as the paper's code) -----------------------
def _slowfast_epochs(steps: Sequence[float], max_epoch: float, avg_bs: Sequence[float],
                     epoch_factor: float) -> List[Tuple[int, int, float]]:
    """SlowFast's split of epochs over long-cycle shapes, unrounded.

    Inside each LR stage every long-cycle shape gets epochs proportional to
    its average batch multiplier, i.e. the same number of iterations. The
    fine-tune (at the last shape) after ``steps[-1]`` keeps the iteration
    saving of the rest; finally all is scaled to ``max_epoch * epoch_factor``.

    Returns:
        list[tuple[int, int, float]]: ``(lr_stage, long_cycle_index, epochs)``.
    """
    total = sum(avg_bs)
    schedule, iters = [], 0.0
    for stage in range(len(steps) - 1):
        step_epochs = steps[stage + 1] - steps[stage]
        for index, avg in enumerate(avg_bs):
            epochs = step_epochs * avg / total
            iters += epochs / avg
            schedule.append((stage, index, epochs))
    iter_saving = steps[-1] / iters
    finetune = (max_epoch - steps[-1]) / iter_saving * avg_bs[-1]
    schedule.append((len(steps) - 1, len(avg_bs) - 1, finetune))
    scale = max_epoch * epoch_factor / sum(e for _, _, e in schedule)
    return [(stage, index, epochs * scale) for stage, index, epochs in schedule]


def _check_steps(steps, max_epoch, key: str = 'steps') -> None:
    if not isinstance(steps, (list, tuple)) or len(steps) < 2 \
            or not all(_is_number(s) for s in steps) or steps[0] != 0 \
            or any(b <= a for a, b in zip(steps, steps[1:])) or steps[-1] >= max_epoch:
        raise ValueError(f"'{key}': expected strictly increasing LR steps starting at 0, at "
                         f'least two, the last below the end of the run ({max_epoch!r}), '
                         f'got {steps!r}')


def slowfast_long_cycle_epochs(
        num_frames: int, crop_size: int, steps: Sequence[float], max_epoch: float,
        long_cycle_factors=PRESET_DEFAULTS['slowfast']['long_cycle_factors'],
        short_cycle_factors=PRESET_DEFAULTS['slowfast']['short_cycle_factors'],
        epoch_factor: float = 1.5, short_cycle: bool = True,
) -> List[Tuple[int, Tuple[int, int, int], int]]:
    """SlowFast's multigrid long-cycle schedule, epoch level, with its rounding.

    Shapes use ``round(T0 * t)``, ``round(S0 * s)`` and batch multipliers
    ``round(T0 * S0**2 / (T * S**2))`` (short-cycle crops ``S0 * f``
    unrounded, as SlowFast does); end epochs are rounded cumulatively.

    Args:
        num_frames (int): Stock clip length ``T0``.
        crop_size (int): Stock crop ``S0``.
        steps (Sequence[float]): LR steps in epochs, starting at 0; the last
            one starts the fine-tune.
        max_epoch (float): Stock training length in epochs.
        long_cycle_factors: ``(t, s)`` per long-cycle shape, coarse to fine.
        short_cycle_factors: Short-cycle crop factors of the stock crop.
        epoch_factor (float): Multigrid epochs relative to ``max_epoch``.
        short_cycle (bool): Whether short cycles run inside the long cycle.

    Returns:
        list: ``(lr_stage, (multiplier, T, S), end_epoch)`` per phase, the
        fine-tune last.
    """
    _check_steps(steps, max_epoch)
    default_size = float(num_frames * crop_size ** 2)
    avg_bs, long_shapes = [], []
    for t_factor, s_factor in long_cycle_factors:
        frames = int(round(num_frames * t_factor))
        crop = int(round(crop_size * s_factor))
        crops = [crop_size * f for f in short_cycle_factors] if short_cycle else []
        multipliers = [int(round(default_size / (frames * c * c))) for c in crops + [crop]]
        avg_bs.append(sum(multipliers) / len(multipliers))
        long_shapes.append((multipliers[-1], frames, crop))
    result, cumulative = [], 0.0
    for stage, index, epochs in _slowfast_epochs(steps, max_epoch, avg_bs, epoch_factor):
        cumulative += epochs
        result.append((stage, long_shapes[index], int(round(cumulative))))
    return result


# -- presets ----------------------------------------------------------------
def _lr_scaling(cfg: dict) -> str:
    return _check_choice('lr_scaling', cfg['lr_scaling'], _LR_SCALINGS)


def _max_batch(cfg: dict, base: Shape, default: Optional[int]) -> Optional[int]:
    value = cfg['max_batch_size']
    if value is None:
        return default
    if not _is_int(value) or value < base.batch_size:
        raise ValueError(f"cfg key 'max_batch_size': expected None or an int >= the stock "
                         f'batch size {base.batch_size}, got {value!r}')
    return value


def _build_vsr(cfg, base, stock_iters, min_frames, max_crop, multiple):
    crop_factors = _check_factors('crop_factors', cfg['crop_factors'])
    frame_factors = _check_factors('frame_factors', cfg['frame_factors'])
    fractions = _check_fractions('stage_fractions', cfg['stage_fractions'], len(crop_factors))
    cap = _max_batch(cfg, base, 4 * base.batch_size)
    mode = _lr_scaling(cfg)
    budget = _check_choice('budget', cfg['budget'], _BUDGETS)
    epoch_factor = _check_positive('epoch_factor', cfg['epoch_factor'])
    if not isinstance(cfg['keep_volume'], bool):
        raise ValueError(f"cfg key 'keep_volume': expected a bool, got {cfg['keep_volume']!r}")

    stages = []  # (stage, shape, share of the budget)
    for stage, (crop_factor, fraction) in enumerate(zip(crop_factors, fractions)):
        crop = _round_crop(base.crop_size * crop_factor, base.crop_size, multiple)
        for frame_factor in frame_factors:
            frames = max(min_frames, int(round(base.num_frames * frame_factor)))
            batch = base.batch_size
            if cfg['keep_volume']:
                exact = base.volume / (frames * crop ** 2)
                batch = min(cap, max(1, int(round(exact))))
            shape = _check_shape('crop_factors', Shape(batch, frames, crop), base,
                                 min_frames, max_crop)
            stages.append((stage, shape, fraction / len(frame_factors)))

    if budget == 'samples':
        samples = stock_iters * base.batch_size * epoch_factor
        counts = _iters_for_samples([samples * share for *_, share in stages],
                                    [(s,) for _, s, _ in stages])
    else:
        counts = _iterations_split(stock_iters * epoch_factor, [f for *_, f in stages],
                                   'stage_fractions')
    specs = [(f'S{s.crop_size}-T{s.num_frames}', stage, (s,), n,
              lr_scale(s.batch_size, base.batch_size, mode))
             for (stage, s, _), n in zip(stages, counts)]
    return specs, budget


def _check_long_cycle_factors(values) -> Tuple[Tuple[float, float], ...]:
    ok = isinstance(values, (list, tuple)) and values and all(
        isinstance(v, (list, tuple)) and len(v) == 2
        and all(_is_number(x) and 0 < x <= 1 for x in v) for v in values)
    if not ok:
        raise ValueError("cfg key 'long_cycle_factors': expected a non-empty list of (t, s) "
                         f'pairs in (0, 1], coarse to fine, got {values!r}')
    return tuple((float(t), float(s)) for t, s in values)


def _check_lr_steps(values) -> Tuple[float, ...]:
    if not isinstance(values, (list, tuple)) or not values or values[0] != 0 \
            or not all(_is_number(v) and 0 <= v < 1 for v in values) \
            or any(b <= a for a, b in zip(values, values[1:])) or len(values) < 2:
        raise ValueError("cfg key 'lr_steps': expected SlowFast's LR steps as fractions of "
                         'the stock run: strictly increasing, starting at 0.0, at least two, '
                         f'all < 1 (the last starts the fine-tune), got {values!r}')
    return tuple(float(v) for v in values)


def _build_slowfast(cfg, base, stock_iters, min_frames, max_crop, multiple):
    for key in ('long_cycle', 'short_cycle'):
        if not isinstance(cfg[key], bool):
            raise ValueError(f"cfg key '{key}': expected a bool, got {cfg[key]!r}")
    long_factors = _check_long_cycle_factors(cfg['long_cycle_factors'])
    short_factors = _check_factors('short_cycle_factors', cfg['short_cycle_factors'],
                                   increasing=False)
    lr_steps = _check_lr_steps(cfg['lr_steps'])
    epoch_factor = _check_positive('epoch_factor', cfg['epoch_factor'])
    cap = _max_batch(cfg, base, None)
    mode = _lr_scaling(cfg)

    def capped(batch):
        return batch if cap is None else min(cap, batch)

    if not cfg['long_cycle']:
        long_factors = ((1.0, 1.0),)
    cycles = []  # per long-cycle shape: its short cycle + itself (the last sets the LR)
    for t_factor, s_factor in long_factors:
        frames = int(round(base.num_frames * t_factor))
        crop = _round_crop(round(base.crop_size * s_factor), base.crop_size, multiple)
        multiplier = max(1, int(round(base.volume / base.batch_size / (frames * crop ** 2))))
        long_shape = _check_shape('long_cycle_factors',
                                  Shape(capped(base.batch_size * multiplier), frames, crop),
                                  base, min_frames, max_crop)
        shapes = []
        for factor in short_factors if cfg['short_cycle'] else ():
            # Never larger than the long-cycle crop: a larger one would get a
            # batch factor round((S/c)**2) of 0.
            short = min(crop, _round_crop(round(base.crop_size * factor), base.crop_size,
                                          multiple))
            batch = capped(long_shape.batch_size * max(1, int(round((crop / short) ** 2))))
            shapes.append(Shape(batch, frames, short))
        cycles.append(tuple(shapes) + (long_shape,))

    # Epoch unit = one stock iteration (B0 clips): max_epoch = stock_iters and
    # the LR steps are fractions of it. Average multipliers use the actual
    # (rounded, capped) batches so every shape gets equal iterations.
    avg = [sum(s.batch_size for s in c) / len(c) / base.batch_size for c in cycles]
    if cfg['long_cycle']:
        steps = [f * stock_iters for f in lr_steps]
        split = _slowfast_epochs(steps, stock_iters, avg, epoch_factor)
    else:
        split = [(0, 0, stock_iters * epoch_factor)]
    final_stage = len(lr_steps) - 1 if cfg['long_cycle'] else 0
    counts = _iters_for_samples([epochs * base.batch_size for *_, epochs in split],
                                [cycles[index] for _, index, _ in split])
    specs = []
    for (stage, index, _), num_iters in zip(split, counts):
        cycle = cycles[index]
        long_shape = cycle[-1]
        kind = 'finetune' if cfg['long_cycle'] and stage == final_stage else f'lr{stage}'
        specs.append((f'{kind}-T{long_shape.num_frames}-S{long_shape.crop_size}', stage, cycle,
                      num_iters, lr_scale(long_shape.batch_size, base.batch_size, mode)))
    return specs, 'samples'


def _build_large_batch(cfg, base, stock_iters, min_frames, max_crop, multiple):
    multiplier = _check_int('batch_multiplier', cfg['batch_multiplier'], 1)
    mode = _lr_scaling(cfg)
    epoch_factor = _check_positive('epoch_factor', cfg['epoch_factor'])
    num_iters = _ceil(stock_iters * epoch_factor / multiplier)
    shape = Shape(base.batch_size * multiplier, base.num_frames, base.crop_size)
    specs = [(f'B{shape.batch_size}-T{shape.num_frames}-S{shape.crop_size}', 0, (shape,),
              num_iters, lr_scale(shape.batch_size, base.batch_size, mode))]
    return specs, 'samples'


def _build_phases(cfg, base, stock_iters, min_frames, max_crop, multiple):
    entries = cfg['phases']
    if not isinstance(entries, (list, tuple)) or not entries or not all(
            isinstance(e, (list, tuple)) and len(e) == 4 for e in entries):
        raise ValueError("cfg key 'phases': expected a non-empty list of "
                         f'(fraction, B, T, S), got {entries!r}')
    fractions = _check_fractions('phases', [e[0] for e in entries])
    budget = _check_choice('budget', cfg['budget'], _BUDGETS)
    epoch_factor = _check_positive('epoch_factor', cfg['epoch_factor'])
    mode = _lr_scaling(cfg)
    shapes = []
    for index, (_, batch, frames, crop) in enumerate(entries):
        key = f'phases[{index}]'
        if not all(_is_int(v) and v > 0 for v in (batch, frames, crop)):
            raise ValueError(f"cfg key '{key}': B, T, S must be positive ints, got "
                             f'{(batch, frames, crop)!r}')
        if crop != base.crop_size and crop % multiple:
            raise ValueError(f"cfg key '{key}': crop S={crop} must be the stock crop "
                             f'{base.crop_size} or a multiple of crop_multiple={multiple} '
                             f'(e.g. {max(multiple, crop // multiple * multiple)})')
        shapes.append(_check_shape(key, Shape(batch, frames, crop), base, min_frames,
                                   max_crop))
    if budget == 'samples':
        samples = stock_iters * base.batch_size * epoch_factor
        counts = _iters_for_samples([samples * f for f in fractions], [(s,) for s in shapes])
    else:
        counts = _iterations_split(stock_iters * epoch_factor, fractions, 'phases')
    specs = [(f'phase{i}-B{s.batch_size}-T{s.num_frames}-S{s.crop_size}', i, (s,), n,
              lr_scale(s.batch_size, base.batch_size, mode))
             for i, (s, n) in enumerate(zip(shapes, counts))]
    return specs, budget


_BUILDERS = dict(vsr=_build_vsr, slowfast=_build_slowfast, large_batch=_build_large_batch,
                 phases=_build_phases)


def build_schedule(cfg: dict, base: Shape, stock_iters: int, *, scale: int = 4,
                   min_frames: int = 2, max_crop: Optional[int] = None) -> Schedule:
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

    Args:
        cfg (dict): ``dict(preset=..., **keys)``; see :data:`PRESET_DEFAULTS`.
        base (Shape): Stock per-GPU batch size, clip length and GT crop.
        stock_iters (int): Iterations of the stock run.
        scale (int): Super-resolution upscale factor.
        min_frames (int): Shortest clip the model accepts.
        max_crop (int, optional): Smallest frame side of the training data in
            GT pixels; larger crops are rejected.

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
            _is_int(v) and v > 0 for v in (base.batch_size, base.num_frames, base.crop_size)):
        raise ValueError(f'base: expected a Shape of positive ints, got {base!r}')
    _check_int('stock_iters', stock_iters, 1)
    _check_int('scale', scale, 1)
    _check_int('min_frames', min_frames, 1)
    if max_crop is not None:
        _check_int('max_crop', max_crop, 1)
        if base.crop_size > max_crop:
            raise ValueError(f"'max_crop': the stock crop {base.crop_size} exceeds "
                             f'max_crop={max_crop} (smallest training frame side, GT px)')
    if base.num_frames < min_frames:
        raise ValueError(f"'min_frames': the stock clip length {base.num_frames} is below "
                         f'min_frames={min_frames}')
    cfg = {**defaults, **cfg}
    multiple = scale * 4
    if 'crop_multiple' in cfg and cfg['crop_multiple'] is not None:
        multiple = _check_int('crop_multiple', cfg['crop_multiple'], 1)
    warmup_start = _check_warmup_start(cfg['warmup_start'])

    specs, budget = _BUILDERS[preset](cfg, base, stock_iters, min_frames, max_crop, multiple)
    total = sum(n for *_, n, _ in specs)
    warmup = cfg['warmup_iters']
    if preset == 'large_batch' and warmup is None:
        warmup = max(1, int(round(0.05 * total)))  # 5% of the run, as in Goyal et al.
    warmup = _check_int('warmup_iters', warmup, 0)
    return Schedule(phases=_assemble(specs, base, warmup, warmup_start), base=base,
                    stock_iters=stock_iters, budget=budget, preset=preset)
