"""Which channels a pruned model keeps, for a cost target.

Plain functions of per-channel importance and a cost function of the kept
counts (:func:`.basicvsr.count_macs` or :func:`.basicvsr.count_params`), so
the ranking rule reads in one place.
"""
from typing import Callable, Dict, Mapping

import torch

__all__ = ['kept_from_picked', 'choose_kept']

Cost = Callable[[Mapping[str, int]], float]


def kept_from_picked(picked: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The channels stage 1 did not regularise away (SSL's own choice)."""
    kept = {}
    for name, mask in picked.items():
        index = (~mask.bool()).nonzero().flatten().cpu()
        if index.numel() == 0:
            raise ValueError(f'group {name!r}: every channel was picked; nothing would remain')
        kept[name] = index
    return kept


def _round_up(count: int, size: int, multiple: int) -> int:
    return min(size, -(-count // multiple) * multiple)


def _round_within(counts, scores, sizes, floor, cost, target, multiple):
    """Round every count down to a multiple (or its floor), then give whole
    multiples back, most important next channels first, while within target."""
    counts = {n: max(floor[n], c // multiple * multiple if c < sizes[n] else c)
              for n, c in counts.items()}
    ordered = {n: torch.sort(s, descending=True, stable=True).values for n, s in scores.items()}
    while True:
        grown = None
        for name in sorted(counts, key=lambda n: -float(ordered[n][counts[n]])
                           if counts[n] < sizes[n] else float('inf')):
            if counts[name] >= sizes[name]:
                continue
            trial = dict(counts, **{name: min(sizes[name], counts[name] + multiple)})
            if cost(trial) <= target:
                grown = trial
                break
        if grown is None:
            return counts
        counts = grown


def _keep_top(score: torch.Tensor, count: int) -> torch.Tensor:
    order = torch.argsort(score, descending=True, stable=True)
    return order[:count].sort().values


def choose_kept(importance: Mapping[str, torch.Tensor], cost: Cost, target: float,
                scope: str = 'global', round_to: int = 1,
                min_keep: int = 1) -> Dict[str, torch.Tensor]:
    """Keep the most important channels so that ``cost(counts) <= target``.

    Args:
        importance: Group -> non-negative score per channel.
        cost: Cost of a model with the given kept count per group.
        target: Largest acceptable cost (e.g. 0.25 x the dense MACs).
        scope: ``'global'``: remove the least important channel of all
            groups, one at a time; ``'group'``: remove the same share of every
            group (the smallest share that meets the target).
        round_to: Keep a multiple of this many channels per group (GPU
            friendly widths; or the whole group if smaller), still within
            ``target``.
        min_keep: Channels every group keeps.

    Returns:
        Group -> sorted kept indices.

    Raises:
        ValueError: If even ``min_keep`` channels per group cost more than ``target``.
    """
    if scope not in ('global', 'group'):
        raise ValueError(f"scope: expected 'global' or 'group', got {scope!r}")
    scores = {name: s.detach().float().cpu() for name, s in importance.items()}
    sizes = {name: s.numel() for name, s in scores.items()}
    floor = {name: min(_round_up(min_keep, size, round_to), size)
             for name, size in sizes.items()}
    if cost(floor) > target:
        raise ValueError(f'target {target:g} cannot be met: keeping {min_keep} channel(s) per '
                         f'group already costs {cost(floor):g}')
    if scope == 'global':
        counts = dict(sizes)
        ranked = sorted((float(s), name, c) for name, score in scores.items()
                        for c, s in enumerate(score.tolist()))
        for _, name, _ in ranked:
            if cost(counts) <= target:
                break
            if counts[name] <= floor[name]:
                continue
            counts[name] -= 1
    else:
        low, high = 0.0, 1.0
        for _ in range(40):
            share = (low + high) / 2
            counts = {n: max(floor[n], sizes[n] - int(share * sizes[n])) for n in sizes}
            low, high = (share, high) if cost(counts) > target else (low, share)
        counts = {n: max(floor[n], sizes[n] - int(high * sizes[n])) for n in sizes}
    if round_to > 1:
        counts = _round_within(counts, scores, sizes, floor, cost, target, round_to)
    return {name: _keep_top(scores[name], counts[name]) for name in scores}
