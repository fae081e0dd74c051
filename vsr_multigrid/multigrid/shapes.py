"""The curriculum's data model: batch shapes, phases and the whole schedule.

Pure Python; :func:`vsr_multigrid.multigrid.schedule.build_schedule` makes a
:class:`Schedule` from a config, and everything else only queries it.
"""
import bisect
import operator
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import List, Sequence, Tuple

__all__ = ['Shape', 'Phase', 'Schedule', 'cycle_sum']


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
        return cycle_sum(self.shapes, self.num_iters, _batch)

    @property
    def volume(self) -> int:
        """Sum of batch volumes over the whole phase."""
        return cycle_sum(self.shapes, self.num_iters, _volume)


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
        notes (tuple[str, ...]): What the builder had to change in the
            config to make it trainable (e.g. clip lengths raised to the
            model's minimum and the phases that became equal merged); the
            train loop logs them as warnings and the table prints them.
    """

    phases: Tuple[Phase, ...]
    base: Shape
    stock_iters: int
    budget: str
    preset: str
    notes: Tuple[str, ...] = ()

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
        within = cycle_sum(phase.shapes, iteration - phase.start_iter, _batch)
        return self._samples_prefix[index] + within

    def first_iter_with_samples(self, samples: int) -> int:
        """First iteration at which ``samples`` clips have been seen (at most
        ``total_iters``): where a stock setting counted in iterations of the
        base batch, such as BasicVSR's ``fix_iter``, falls in the curriculum."""
        iteration = 0
        while iteration < self.total_iters and self.samples_before(iteration) < samples:
            iteration += 1
        return iteration

    def scaled_interval(self, stock_interval: int) -> int:
        """An interval of the stock run at the same share of the budget
        (validation, checkpoints); non-positive ("never") stays as it is."""
        if stock_interval <= 0:
            return stock_interval
        return max(1, round(stock_interval * self.total_iters / self.stock_iters))

    def stock_progress_iter(self, iteration: int) -> float:
        """Where the stock run is at the same share of its data.

        ``stock_iters * samples_before(iteration) / total_samples``: the
        stock LR curve is laid over the whole curriculum by the fraction of
        its clips seen, so it starts at stock iteration 0 and reaches
        ``stock_iters`` exactly at the end of every preset, whatever its
        ``epoch_factor`` or budget (SlowFast stretches its LR steps to the
        multigrid schedule the same way). Coarse phases, which see more clips
        per iteration, move along the stock curve faster.
        """
        return self.stock_iters * self.samples_before(iteration) / self.total_samples

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
        lines += [f'note: {note}' for note in self.notes]
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
                    phases=phases, notes=list(self.notes))


def _batch(shape: Shape) -> int:
    return shape.batch_size


def _volume(shape: Shape) -> int:
    return shape.volume


def cycle_sum(shapes: Sequence[Shape], count: int, value) -> int:
    """Sum ``value(shape)`` over the first ``count`` iterations of a cycle, in O(len(shapes))."""
    cycles, rest = divmod(count, len(shapes))
    return cycles * sum(value(s) for s in shapes) + sum(value(s) for s in shapes[:rest])


def _join(values) -> str:
    values = list(values)
    return str(values[0]) if len(set(values)) == 1 else '/'.join(map(str, values))
