"""SlowFast's multigrid schedule at epoch level, exactly as the paper's code.

Wu et al., "A Multigrid Method for Efficiently Training Video Models" (CVPR
2020), ``slowfast/utils/multigrid.py``: inside each LR stage every long-cycle
shape gets epochs in proportion to its average batch multiplier (equal
iterations per shape), a fine-tune phase is appended, and everything is
rescaled to ``max_epoch * epoch_factor``. The ``'slowfast'`` preset builds its
phases from :func:`slowfast_epochs`.
"""
from typing import List, Sequence, Tuple

from .checks import is_number

#: SlowFast's default long-cycle ``(t, s)`` factors, coarse to fine.
LONG_CYCLE_FACTORS = ((0.25, 0.5 ** 0.5), (0.5, 0.5 ** 0.5), (0.5, 1), (1, 1))
#: SlowFast's default short-cycle crop factors.
SHORT_CYCLE_FACTORS = (0.5, 0.5 ** 0.5)

__all__ = ['slowfast_epochs', 'slowfast_long_cycle_epochs', 'LONG_CYCLE_FACTORS',
           'SHORT_CYCLE_FACTORS']


def slowfast_epochs(steps: Sequence[float], max_epoch: float, avg_bs: Sequence[float],
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
            or not all(is_number(s) for s in steps) or steps[0] != 0 \
            or any(b <= a for a, b in zip(steps, steps[1:])) or steps[-1] >= max_epoch:
        raise ValueError(f"'{key}': expected strictly increasing LR steps starting at 0, at "
                         f'least two, the last below the end of the run ({max_epoch!r}), '
                         f'got {steps!r}')


def slowfast_long_cycle_epochs(
        num_frames: int, crop_size: int, steps: Sequence[float], max_epoch: float,
        long_cycle_factors=LONG_CYCLE_FACTORS,
        short_cycle_factors=SHORT_CYCLE_FACTORS,
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
    for stage, index, epochs in slowfast_epochs(steps, max_epoch, avg_bs, epoch_factor):
        cumulative += epochs
        result.append((stage, long_shapes[index], int(round(cumulative))))
    return result
