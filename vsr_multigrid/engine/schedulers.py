"""LR scheduler that lays the curriculum on top of the stock LR schedule."""
import copy
from typing import List

from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmagic.registry import PARAM_SCHEDULERS

from vsr_multigrid.multigrid.lr import StockLRCurve, curriculum_lrs


@PARAM_SCHEDULERS.register_module()
class MultigridLR(_ParamScheduler):
    """Stock LR schedule, followed in samples seen, times the curriculum factor.

    ``lr_g(i) = stock_g(p(i)) * factor(i)`` for every param group ``g``,
    where ``p(i) = floor(stock_iters * samples_before(i) / total_samples)``
    is the stock iteration at the same share of the clips
    (``schedule.stock_progress_iter``): the stock curve is laid over the
    whole curriculum and ends exactly where the curriculum ends, whatever its
    ``epoch_factor`` or budget. ``stock_g(n)`` is the LR the stock schedulers
    give group ``g`` at stock iteration ``n``, and ``factor(i)`` the
    curriculum's batch-size LR scaling with its warm-up. The value is set, not multiplied in, so nothing
    compounds; each group starts from its ``initial_lr``, which holds its
    ``lr_mult`` (SPyNet's 0.125 is preserved).

    The stock schedulers run on a shadow optimizer with one parameter per
    group and the same initial LRs (absolute terms such as ``eta_min`` make
    the curve depend on the base LR), so any mmengine LR scheduler
    (``CosineRestartLR``, warm-up chains, ...) gives exactly its stock values.
    A stock scheduler without ``end`` gets the stock run's ``max_iters``, as
    mmengine's runner would give it (``CosineAnnealingLR`` without ``T_max``,
    ``LinearLR``). Use it as the only LR scheduler (the loop refuses a
    second one)::

        param_scheduler = dict(_delete_=True, type='MultigridLR', by_epoch=False,
                               stock={{_base_.param_scheduler}})

    (``by_epoch=False`` in the config matters: mmengine sets the default
    ``end`` of a scheduler from it before building it.)

    The curriculum is attached by :class:`MultigridTrainLoop`; until then the
    LR is the stock LR at iteration 0.

    Args:
        optimizer: Wrapped optimizer (passed by the runner).
        stock (dict | list[dict]): The stock LR scheduler config(s); they must
            be iteration-based (``by_epoch=False``).
        begin (int): Must be 0: the curriculum sets the LR from the start.
        end (int): Must cover the curriculum (checked when it is attached);
            mmengine fills in ``max_iters``.
    """

    def __init__(self, optimizer, stock, by_epoch: bool = False,
                 begin: int = 0, end: int = INF, verbose: bool = False):
        if begin != 0:
            raise ValueError(f'MultigridLR.begin must be 0, got {begin}')
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
        self._stock = None
        super().__init__(optimizer, 'lr', begin=0, end=end, by_epoch=False,
                         verbose=verbose)

    def bind(self, schedule) -> None:
        """Attach the curriculum and set the LR of the current step."""
        if self.end < schedule.total_iters:
            raise ValueError(
                f'MultigridLR.end={self.end} stops before the curriculum\'s '
                f'{schedule.total_iters} iterations: set by_epoch=False in its '
                'config (mmengine then defaults end to max_iters) or raise end')
        self.schedule = schedule
        self._stock = None  # rebuilt with the stock run's default end
        values = self._get_value()
        for group, value in zip(self.optimizer.param_groups, values):
            group['lr'] = value
        self._last_value = values

    def _curve(self) -> StockLRCurve:
        # mmengine's runner gives a scheduler without `end` the run's
        # max_iters; the stock run's is the schedule's stock_iters.
        default_end = self.schedule.stock_iters if self.schedule is not None else INF

        def build(optimizer):
            return [PARAM_SCHEDULERS.build({'end': default_end, **cfg, 'by_epoch': False},
                                           default_args=dict(optimizer=optimizer))
                    for cfg in self.stock_cfgs]

        return StockLRCurve([group['initial_lr'] for group in self.optimizer.param_groups],
                            build)

    def _get_value(self) -> List[float]:
        if self._stock is None:
            self._stock = self._curve()
        if self.schedule is None:
            return self._stock.lrs_at(0)
        return curriculum_lrs(self.schedule, self._stock, max(self.last_step, 0))

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
