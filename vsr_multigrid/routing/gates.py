"""Per-patch decisions: which residual blocks run where.

A light estimator reads the branch's feature after its input conv (the LR
frame and the propagated hidden state), and optionally a temporal cue (how
much the LR frame differs from the previous one warped to it), and predicts, per patch and per unit
(one block, or a group of consecutive blocks), a logit for "worth running".
Training uses Gumbel-sigmoid gates with a straight-through estimator (hard
0/1 forward, soft gradient), so every parameter gets a gradient each step
(DDP-safe); inference thresholds the confidence. The compute loss pulls the
executed fraction to a target (DynConv's squared deviation); the optional
indecision loss pushes each confidence away from 0.5, so that the test-time
decisions do not hinge on where the threshold sits.
"""
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['ConfidenceEstimator', 'temporal_cue', 'static_patches', 'gumbel_sigmoid_gates',
           'hard_gates', 'share_gates', 'executed_share', 'BUDGET_DIMS', 'compute_loss',
           'indecision_loss', 'patch_errors', 'oracle_labels', 'oracle_loss']


class ConfidenceEstimator(nn.Module):
    """Per patch and unit, the logit of running that unit.

    Pools each patch (mean and max of the feature, and of the temporal cue
    if any), then two 1x1 convs. The output bias starts at ``open_bias`` so
    a fresh estimator runs (almost) every block: training starts from the
    dense model's behaviour.

    Args:
        in_channels: Channels of the feature it reads.
        num_units: Decisions per patch.
        patch: Patch size in LR pixels.
        hidden: Width of the hidden 1x1 conv.
        open_bias: Initial logit (sigmoid(3) = 0.95).
        cue_channels: Channels of the temporal cue read beside the feature
            (:func:`temporal_cue`; 0: none).
    """

    def __init__(self, in_channels: int, num_units: int, patch: int, hidden: int = 16,
                 open_bias: float = 3.0, cue_channels: int = 0):
        super().__init__()
        if not isinstance(patch, int) or patch < 1:
            raise ValueError(f'routing patch size: expected a positive int, got {patch!r}')
        if not isinstance(num_units, int) or num_units < 1:
            raise ValueError(f'routing units: expected a positive int, got {num_units!r}')
        self.patch = patch
        self.cue_channels = cue_channels
        self.reduce = nn.Conv2d(2 * (in_channels + cue_channels), hidden, 1)
        self.head = nn.Conv2d(hidden, num_units, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.constant_(self.head.bias, open_bias)

    def forward(self, feat: torch.Tensor, cue: torch.Tensor = None) -> torch.Tensor:
        """``(n, c, h, w)`` (and the cue ``(n, cue_channels, h, w)``) -> logits
        ``(n, num_units, ceil(h / patch), ceil(w / patch))``."""
        return self.score(self.pool(feat, cue))

    def pool(self, feat: torch.Tensor, cue: torch.Tensor = None) -> torch.Tensor:
        """Mean and max of each patch: ``(n, 2 (c + cue_channels), gh, gw)``."""
        if (cue is None) != (self.cue_channels == 0):
            raise ValueError(f'this estimator reads {self.cue_channels} cue channel(s), '
                             f'got {None if cue is None else tuple(cue.shape)}')
        if cue is not None:
            feat = torch.cat([feat, cue], dim=1)
        return torch.cat([
            F.avg_pool2d(feat, self.patch, ceil_mode=True),
            F.max_pool2d(feat, self.patch, ceil_mode=True)], dim=1)

    def score(self, pooled: torch.Tensor) -> torch.Tensor:
        """Pooled patches (:meth:`pool`) -> logits."""
        return self.head(F.relu(self.reduce(pooled)))


def temporal_cue(lr: torch.Tensor, previous_lr: torch.Tensor) -> torch.Tensor:
    """What the propagated hidden state cannot know: ``|lr - warped previous
    lr|``, averaged over colour, ``(n, 1, h, w)``. Near zero where the frame
    repeats the previous one after alignment (a static or well-tracked
    region, whose features the hidden state already carries)."""
    return (lr - previous_lr).abs().mean(dim=1, keepdim=True)


def static_patches(lr: torch.Tensor, previous_lr: torch.Tensor, patch: int,
                   tolerance: float = 0.0, margin: int = 1) -> torch.Tensor:
    """Patches whose LR pixels, and ``margin`` pixels around them (the input
    conv's reach), changed by at most ``tolerance`` since ``previous_lr``
    (not warped: an unchanged input means no motion, whatever a flow network
    says). Returns bool ``(n, 1, ceil(h / patch), ceil(w / patch))``."""
    if lr.shape != previous_lr.shape:
        raise ValueError(f'static patches: frames {tuple(lr.shape)} and '
                         f'{tuple(previous_lr.shape)} differ in shape')
    if not tolerance >= 0:
        raise ValueError(f'static tolerance: expected a number >= 0, got {tolerance!r}')
    change = (lr - previous_lr).abs().amax(dim=1, keepdim=True)
    if margin:
        change = F.max_pool2d(change, 2 * margin + 1, stride=1, padding=margin)
    return F.max_pool2d(change, patch, ceil_mode=True) <= tolerance


def gumbel_sigmoid_gates(logits: torch.Tensor, temperature: float,
                         straight_through: bool = True, noise: float = 1.0) -> torch.Tensor:
    """Training gates: ``sigmoid((logits + noise * logistic noise) / temperature)``,
    hard 0/1 in the forward pass with the soft gradient (straight-through).

    With ``noise`` 1 a gate opens with probability ``sigmoid(logit)``, so the
    compute loss can be met by confidences that all sit near the target
    (e.g. every one at 0.6, open 60% of the steps) while a test-time
    threshold of 0.5 runs them all. Towards 0 the training decisions become
    the test-time ones (``logit > 0``), and the compute loss has to be met
    by the decisions themselves."""
    if not temperature > 0:
        raise ValueError(f'gate temperature: expected a positive number, got {temperature!r}')
    if not 0 <= noise <= 1:
        raise ValueError(f'gate noise: expected a scale in [0, 1], got {noise!r}')
    uniform = torch.rand_like(logits).clamp_(1e-6, 1 - 1e-6)
    soft = torch.sigmoid((logits + noise * (torch.log(uniform) - torch.log1p(-uniform)))
                         / temperature)
    if not straight_through:
        return soft
    return (soft > 0.5).to(soft) - soft.detach() + soft


def hard_gates(logits: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Inference decisions: run where the confidence ``sigmoid(logit)`` passes
    ``threshold`` (0 runs everything, 1 nothing).

    Compared in logit space: a trained estimator's logits can fall below -100,
    where ``sigmoid`` is exactly 0 in float32 and threshold 0 would skip."""
    if not 0 <= threshold <= 1:
        raise ValueError(f'gate threshold: expected a confidence in [0, 1], got {threshold!r}')
    if threshold == 0:
        return torch.ones_like(logits, dtype=torch.bool)
    return logits > torch.logit(torch.tensor(float(threshold), dtype=torch.float64)).item()


def top_share(scores: torch.Tensor, share: float) -> torch.Tensor:
    """Bool mask of the ``round(share * k)`` largest of each row's ``k``
    scores (rows: the first dim; the rest flattened)."""
    flat = scores.flatten(1)
    keep = round(share * flat.size(1))
    mask = torch.zeros_like(flat, dtype=torch.bool)
    if keep:
        mask.scatter_(1, flat.topk(keep, dim=1).indices, True)
    return mask.view_as(scores)


def share_gates(logits: torch.Tensor, share: float) -> torch.Tensor:
    """Inference decisions at a fixed share: per sample, the ``round(share *
    k)`` most confident of its ``k`` (unit, patch) pairs run, whatever their
    confidences (the threshold's alternative).

    An estimator's confidences can spread differently on new clips than on
    its training crops, so one threshold may run 0.65 of the blocks where
    training met 0.5 (``docs/BENCHMARKS.md``, bench21-s1); ranking within
    the frame keeps its order and fixes the cost. Patches count alike here;
    a partial one at the frame's edge costs less, so the share of work run
    (:func:`executed_share`) can differ slightly."""
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ValueError(f'gate share: expected a fraction in [0, 1], got {share!r}')
    return top_share(logits, share)


def executed_share(gates: torch.Tensor, areas: torch.Tensor = None,
                   dims: tuple = None) -> torch.Tensor:
    """Share of (block, pixel) pairs run: the gates ``(..., gh, gw)`` averaged
    over ``dims`` (None: all) with each patch weighted by its pixels
    (:func:`~vsr_multigrid.routing.patches.patch_areas`; None: equal
    weights). A partial patch at the frame's edge costs less work, and
    counting it as a whole one would overstate what skipping it saves."""
    gates = gates.float()
    weights = torch.ones_like(gates) if areas is None else areas.to(gates).expand_as(gates)
    dims = tuple(range(gates.dim())) if dims is None else dims
    return (gates * weights).sum(dims) / weights.sum(dims)


#: Where the compute loss holds the target, as the dims of the stacked
#: training gates ``(branch steps, n, units, gh, gw)`` that one share
#: averages: ``'clip'``, the whole forward; ``'frame'``, each branch step
#: (a frame of one branch); ``'unit'``, each unit in each branch step.
BUDGET_DIMS = dict(clip=(0, 1, 2, 3, 4), frame=(1, 2, 3, 4), unit=(1, 3, 4))


def compute_loss(gates: torch.Tensor, target: float, areas: torch.Tensor = None,
                 budget: str = 'clip') -> torch.Tensor:
    """Mean ``(executed share - target)^2`` of each share that ``budget``
    holds (:data:`BUDGET_DIMS`, :func:`executed_share`), for stacked gates
    ``(branch steps, n, units, gh, gw)``.

    With ``'clip'`` the target can be met without deciding per patch: the
    estimators of our runs closed one branch's blocks almost everywhere and
    kept the other's (``docs/BENCHMARKS.md``, stop 26). ``'frame'`` and
    ``'unit'`` leave only the choice of patches (and, for ``'frame'``, of
    blocks within a frame), as DynConv's per-layer budget does."""
    if not 0 <= target <= 1:
        raise ValueError(f'routing target: expected an executed fraction in [0, 1], '
                         f'got {target!r}')
    if budget not in BUDGET_DIMS:
        raise ValueError(f'routing budget: expected one of {tuple(BUDGET_DIMS)}, '
                         f'got {budget!r}')
    if gates.dim() != 5:
        raise ValueError(f'compute loss: expected stacked gates (branch steps, n, units, gh, '
                         f'gw), got shape {tuple(gates.shape)}')
    return ((executed_share(gates, areas, BUDGET_DIMS[budget]) - target) ** 2).mean()


def indecision_loss(logits: torch.Tensor, areas: torch.Tensor = None) -> torch.Tensor:
    """``4 p (1 - p)`` with ``p = sigmoid(logits)``, averaged like
    :func:`executed_share`: 1 where a confidence sits at 0.5, towards 0 as it
    decides either way.

    The training gates sample their noise around the logit, so an undecided
    gate runs in some steps and not in others, and the backbone learns to
    live with both; at test time it is decided by the threshold alone, and
    a model whose confidences sit between two thresholds changes with the
    choice (``docs/BENCHMARKS.md``, bench10-s1).

    Give it logits scored from detached features (``estimator.score(
    estimator.pool(feat, cue).detach())``): through the features, the
    cheapest way to extreme logits is to inflate the backbone's
    activations, which wrecked the backbone in our bench (bench11)."""
    p = torch.sigmoid(logits.float())
    return executed_share(4 * p * (1 - p), areas)


def patch_errors(output: torch.Tensor, gt: torch.Tensor, patch: int) -> torch.Tensor:
    """Mean absolute error of each LR patch's output pixels.

    Args:
        output, gt: ``(n, t, c, H, W)`` at the output resolution.
        patch: The output pixels of one LR patch per side (LR patch x scale).

    Returns:
        ``(n, t, ceil(H / patch), ceil(W / patch))``; an edge patch averages
        its own pixels only.
    """
    n, t = output.shape[:2]
    error = (output - gt).abs().mean(dim=2).flatten(0, 1).unsqueeze(1)
    pooled = F.avg_pool2d(error, patch, ceil_mode=True)
    return pooled.view(n, t, *pooled.shape[-2:])


def oracle_labels(gains: torch.Tensor, share: float) -> torch.Tensor:
    """Which (patch, unit) pairs are worth running: per unit, the ``share``
    of patches where closing it raises the error most.

    Args:
        gains: ``(units, ...)``, the error increase when that unit is closed.
        share: Fraction labelled 1 per unit (the routing target).

    Returns:
        float 0/1 labels of the same shape.
    """
    if not 0 <= share <= 1:
        raise ValueError(f'oracle share: expected a fraction in [0, 1], got {share!r}')
    return top_share(gains, share).to(gains.dtype)


def oracle_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the estimators' logits against oracle labels
    (:func:`oracle_labels`): a direct per-patch ranking signal, which the
    reconstruction loss through a frozen backbone and noisy gates barely
    gives (``docs/BENCHMARKS.md``, stop 23)."""
    return F.binary_cross_entropy_with_logits(logits.float(), labels.float())
