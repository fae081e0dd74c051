"""The learning rate of a curriculum: the stock LR curve, followed in samples
seen, times the curriculum's batch-size factor (framework-free).

``lr_g(i) = stock_g(p(i)) * factor(i)`` for every param group ``g``, where
``p(i) = floor(schedule.stock_progress_iter(i))`` is the stock iteration at
the same share of the clips, ``stock_g(n)`` the LR the stock schedulers give
group ``g`` at stock iteration ``n``, and ``factor(i)`` the curriculum's LR
scaling with its warm-up (``schedule.lr_factor_at``). The stock curve is laid
over the whole curriculum and ends exactly where it ends. Both adapters use
it: MMagic's ``MultigridLR`` and the BasicSR entry point's scheduler.
"""
from typing import Callable, List, Sequence

import torch


class StockLRCurve:
    """LR of every param group in the stock run at any stock iteration.

    The stock schedulers run on a shadow optimizer with one parameter per
    group and the same initial LRs (absolute terms such as ``eta_min`` make
    the curve depend on the base LR), so any scheduler gives exactly its
    stock values. Steps forward only; asking for an earlier step replays
    from the start (once after a resume).

    Args:
        initial_lrs (sequence of float): Initial LR of each param group.
        build_schedulers (callable): ``optimizer -> list of schedulers`` with
            a ``step()``; called again on every replay.
    """

    def __init__(self, initial_lrs: Sequence[float],
                 build_schedulers: Callable[[torch.optim.Optimizer], list]):
        self.initial_lrs = [float(lr) for lr in initial_lrs]
        self.build_schedulers = build_schedulers
        self._shadow = None

    def _new_shadow(self) -> dict:
        optimizer = torch.optim.SGD(
            [dict(params=[torch.nn.Parameter(torch.zeros(1))], lr=lr)
             for lr in self.initial_lrs], lr=1.0)
        return dict(optimizer=optimizer, schedulers=list(self.build_schedulers(optimizer)),
                    step=0)

    def lrs_at(self, stock_iter: int) -> List[float]:
        """LR of every param group in the stock run at ``stock_iter``."""
        if self._shadow is None or self._shadow['step'] > stock_iter:
            self._shadow = self._new_shadow()
        shadow = self._shadow
        while shadow['step'] < stock_iter:
            shadow['optimizer'].step()
            for scheduler in shadow['schedulers']:
                scheduler.step()
            shadow['step'] += 1
        return [group['lr'] for group in shadow['optimizer'].param_groups]


def curriculum_lrs(schedule, curve: StockLRCurve, iteration: int) -> List[float]:
    """LR of every param group at curriculum ``iteration`` (0-based; past the
    end the last values hold)."""
    last = schedule.total_iters - 1
    # Tolerance: float noise must not drop a step at exact multiples.
    stock = curve.lrs_at(int(schedule.stock_progress_iter(min(iteration, last + 1)) + 1e-9))
    factor = schedule.lr_factor_at(min(iteration, last))
    return [lr * factor for lr in stock]
