"""LR scheduler that lays the curriculum on top of the stock LR schedule."""
import copy
from typing import List

import torch
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmagic.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class MultigridLR(_ParamScheduler):
    """Stock LR schedule, followed in samples seen, times the curriculum factor.

    ``lr(i) = initial_lr * stock(p(i)) * factor(i)`` for every param group,
    where ``p(i)`` is the stock iteration that has seen as many clips as the
    curriculum has before iteration ``i`` (``schedule.stock_progress_iter``),
    ``stock(n)`` the stock schedulers' LR ratio at stock iteration ``n``, and
    ``factor(i)`` the curriculum's batch-size LR scaling with its warm-up. The
    value is set, not multiplied in, so nothing compounds; ``initial_lr``
    already holds each group's ``lr_mult`` (SPyNet's 0.125 is preserved).

    The stock schedulers run on a one-parameter shadow optimizer (LR 1.0), so
    any mmengine LR scheduler (``CosineRestartLR``, warm-up chains, ...)
    works unchanged. Use it as the only LR scheduler::

        param_scheduler = dict(_delete_=True, type='MultigridLR',
                               stock={{_base_.param_scheduler}})

    The curriculum is attached by :class:`MultigridTrainLoop`; until then the
    LR is the stock LR at iteration 0.

    Args:
        optimizer: Wrapped optimizer (passed by the runner).
        stock (dict | list[dict]): The stock LR scheduler config(s); they must
            be iteration-based (``by_epoch=False``).
    """

    def __init__(self, optimizer, stock, by_epoch: bool = False,
                 verbose: bool = False):
        stock_cfgs = [stock] if isinstance(stock, dict) else list(stock)
        if not stock_cfgs:
            raise ValueError('MultigridLR.stock must name at least one scheduler')
        for cfg in stock_cfgs:
            if not isinstance(cfg, dict) or 'type' not in cfg:
                raise ValueError(f'MultigridLR.stock entries must be scheduler '
                                 f'configs with a type, got {cfg!r}')
            if cfg.get('by_epoch', True):
                raise ValueError(
                    f'MultigridLR.stock scheduler {cfg["type"]} must be '
                    'iteration-based (by_epoch=False): the curriculum maps '
                    'progress to stock iterations')
            if cfg.get('param_name', 'lr') != 'lr' or 'Momentum' in cfg['type']:
                raise ValueError('MultigridLR.stock holds LR schedulers only, '
                                 f'got {cfg["type"]}')
        if by_epoch:
            raise ValueError('MultigridLR is iteration-based; by_epoch must be False')
        self.stock_cfgs = [dict(copy.deepcopy(c)) for c in stock_cfgs]
        self.schedule = None
        self._shadow = None
        super().__init__(optimizer, 'lr', begin=0, end=INF, by_epoch=False,
                         verbose=verbose)

    def bind(self, schedule) -> None:
        """Attach the curriculum and set the LR of the current step."""
        self.schedule = schedule
        values = self._get_value()
        for group, value in zip(self.optimizer.param_groups, values):
            group['lr'] = value
        self._last_value = values

    # -- stock curve on a shadow optimizer ----------------------------------
    def _new_shadow(self):
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        schedulers = [
            PARAM_SCHEDULERS.build(dict(cfg, by_epoch=False),
                                   default_args=dict(optimizer=optimizer))
            for cfg in self.stock_cfgs
        ]
        return dict(optimizer=optimizer, schedulers=schedulers, step=0)

    def stock_ratio(self, stock_iter: int) -> float:
        """LR of the stock schedule at ``stock_iter``, relative to the base LR.

        Steps forward only; asking for an earlier step rebuilds the shadow
        (once after a resume).
        """
        if self._shadow is None or self._shadow['step'] > stock_iter:
            self._shadow = self._new_shadow()
        shadow = self._shadow
        while shadow['step'] < stock_iter:
            shadow['optimizer'].step()
            for scheduler in shadow['schedulers']:
                scheduler.step()
            shadow['step'] += 1
        return shadow['optimizer'].param_groups[0]['lr']

    def _get_value(self) -> List[float]:
        step = max(self.last_step, 0)
        if self.schedule is None:
            ratio, factor = self.stock_ratio(0), 1.0
        else:
            last = self.schedule.total_iters - 1
            ratio = self.stock_ratio(
                int(self.schedule.stock_progress_iter(min(step, last + 1))))
            factor = self.schedule.lr_factor_at(min(step, last))
        return [group['initial_lr'] * ratio * factor
                for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        # Only counters: the schedule is rebuilt from the config and the
        # shadow replayed, which keeps checkpoints loadable with
        # torch.load(weights_only=True).
        return dict(last_step=self.last_step, _global_step=self._global_step,
                    base_values=self.base_values,
                    _last_value=list(self._last_value))

    def load_state_dict(self, state_dict: dict) -> None:
        self.last_step = state_dict['last_step']
        self._global_step = state_dict['_global_step']
        self.base_values = state_dict['base_values']
        self._last_value = state_dict['_last_value']
