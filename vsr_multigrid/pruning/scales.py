"""Learnable per-channel scales and SSL's growing regulariser.

SSL multiplies every prunable channel by a learnable scale (init 1), picks the
channels to remove once (global ranking), then grows an L2 penalty on the
picked scales by ``delta`` every ``interval`` iterations up to ``limit``, so
their information moves to the kept channels before they are cut. Here the
penalty is a loss term, ``0.5 * sum(penalty * scale**2)`` (its gradient is
SSL's ``penalty * scale``), so it reaches the optimizer through the model's
loss dict, under DDP too. The picked set, the penalties and the iteration
counter are buffers: checkpoints carry them and a resumed run continues.
"""
from typing import Dict, Mapping, Optional

import torch
from torch import nn

__all__ = ['SparsityScales', 'REGULARIZER_DEFAULTS']

#: SSL's published recipe (``basicsr/pruner/SSL_pruner.py``): ratio 0.5 of
#: the prunable channels, +1e-4 every 5 iterations up to 0.1.
REGULARIZER_DEFAULTS = dict(ratio=0.5, scope='global', select_iter=0, interval=5,
                            delta=1e-4, limit=0.1, min_keep=1)


def _check_config(cfg: Mapping) -> dict:
    unknown = sorted(set(cfg) - set(REGULARIZER_DEFAULTS))
    if unknown:
        raise ValueError(f"sparsity key(s) {', '.join(map(repr, unknown))} unknown; allowed: "
                         f"{', '.join(REGULARIZER_DEFAULTS)}")
    cfg = {**REGULARIZER_DEFAULTS, **cfg}
    ratio = cfg['ratio']
    if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not 0 < ratio < 1:
        raise ValueError(f"sparsity key 'ratio': expected a number in (0, 1) (share of the "
                         f'prunable channels to regularise away), got {ratio!r}')
    if cfg['scope'] not in ('global', 'group'):
        raise ValueError(f"sparsity key 'scope': expected 'global' (one ranking over all "
                         f"groups, as SSL) or 'group' (the ratio in each group), "
                         f"got {cfg['scope']!r}")
    for key in ('select_iter', 'min_keep'):
        value = cfg[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 \
                or (key == 'min_keep' and value < 1):
            raise ValueError(f"sparsity key '{key}': expected an int >= "
                             f"{1 if key == 'min_keep' else 0}, got {value!r}")
    if not isinstance(cfg['interval'], int) or isinstance(cfg['interval'], bool) \
            or cfg['interval'] < 1:
        raise ValueError(f"sparsity key 'interval': expected an int >= 1, got "
                         f"{cfg['interval']!r}")
    for key in ('delta', 'limit'):
        value = cfg[key]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"sparsity key '{key}': expected a positive number, got {value!r}")
    return cfg


class SparsityScales(nn.Module):
    """Scales of named channel groups plus the regulariser's state.

    Args:
        groups (Mapping[str, int]): Group name (no dots) to channel count.
        regularizer (dict, optional): Keys of :data:`REGULARIZER_DEFAULTS`:
            ``ratio`` (share of channels picked), ``scope`` (``'global'``
            ranking or per ``'group'``), ``select_iter`` (iteration at which
            the pick is made), ``interval``, ``delta``, ``limit`` (penalty
            growth), ``min_keep`` (channels every group keeps).
    """

    def __init__(self, groups: Mapping[str, int], regularizer: Optional[dict] = None):
        super().__init__()
        if not groups:
            raise ValueError('SparsityScales: no channel groups given')
        self.cfg = _check_config(regularizer or {})
        self.scales = nn.ParameterDict()
        for name, size in groups.items():
            if '.' in name or not isinstance(size, int) or size < 1:
                raise ValueError(f'channel group {name!r}: expected a name without dots and a '
                                 f'positive channel count, got {size!r}')
            self.scales[name] = nn.Parameter(torch.ones(size))
            self.register_buffer(f'penalty_{name}', torch.zeros(size))
            self.register_buffer(f'picked_{name}', torch.zeros(size, dtype=torch.bool))
        self.register_buffer('iteration', torch.zeros((), dtype=torch.long))
        self.register_buffer('has_picked', torch.zeros((), dtype=torch.bool))

    @property
    def names(self):
        return list(self.scales.keys())

    def penalty(self, name: str) -> torch.Tensor:
        return getattr(self, f'penalty_{name}')

    def picked(self, name: str) -> torch.Tensor:
        return getattr(self, f'picked_{name}')

    @torch.no_grad()
    def pick(self, importance: Mapping[str, torch.Tensor]) -> None:
        """Pick the channels to regularise away: the least important ``ratio``.

        ``importance`` gives a non-negative score per channel of every group.
        Every group keeps at least ``min_keep`` channels (never all removed).
        """
        missing = set(self.names) - set(importance)
        if missing:
            raise ValueError(f'importance: missing groups {sorted(missing)}')
        ratio, min_keep = self.cfg['ratio'], self.cfg['min_keep']
        for name in self.names:
            self.picked(name).zero_()
        if self.cfg['scope'] == 'group':
            for name in self.names:
                score = importance[name].detach().float().cpu()
                count = min(int(round(ratio * score.numel())), score.numel() - min_keep)
                order = torch.argsort(score, stable=True)[:max(count, 0)]
                self.picked(name)[order.to(self.picked(name).device)] = True
        else:
            entries = [(float(s), name, c) for name in self.names
                       for c, s in enumerate(importance[name].detach().float().cpu().tolist())]
            entries.sort(key=lambda e: e[0])
            budget = int(round(ratio * len(entries)))
            left = {name: self.scales[name].numel() for name in self.names}
            for _, name, channel in entries:
                if budget == 0:
                    break
                if left[name] <= min_keep:
                    continue
                self.picked(name)[channel] = True
                left[name] -= 1
                budget -= 1
        self.has_picked.fill_(True)

    @torch.no_grad()
    def step(self, importance_fn) -> None:
        """Advance one training iteration: pick at ``select_iter``, grow penalties.

        Args:
            importance_fn: Called without arguments when the pick is due;
                returns the importance mapping of :meth:`pick`.
        """
        it = int(self.iteration)
        if not bool(self.has_picked) and it >= self.cfg['select_iter']:
            self.pick(importance_fn())
        if bool(self.has_picked) and it % self.cfg['interval'] == 0:
            for name in self.names:
                penalty = self.penalty(name)
                grown = (penalty + self.cfg['delta']).clamp_(max=self.cfg['limit'])
                penalty.copy_(torch.where(self.picked(name), grown, penalty))
        self.iteration.add_(1)

    def loss(self) -> torch.Tensor:
        """``0.5 * sum(penalty * scale**2)`` over all groups (zero before the pick)."""
        total = None
        for name in self.names:
            term = 0.5 * (self.penalty(name) * self.scales[name].pow(2)).sum()
            total = term if total is None else total + term
        return total

    def summary(self) -> Dict[str, dict]:
        """Per group: channels, picked, max penalty, mean |scale| of picked and kept."""
        out = {}
        for name in self.names:
            scale = self.scales[name].detach().abs()
            picked = self.picked(name)
            out[name] = dict(
                channels=scale.numel(), picked=int(picked.sum()),
                penalty=float(self.penalty(name).max()),
                picked_scale=float(scale[picked].mean()) if picked.any() else None,
                kept_scale=float(scale[~picked].mean()) if (~picked).any() else None)
        return out
