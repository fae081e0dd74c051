"""Interleaved timing of models on one input, shared by the report tools.

Timing models one after another on this 2-core machine drifted by up to 25%
between runs of the same model (bench9d), more than the differences being
measured. Here the models run round-robin, one warm-up round first, so a
drift during the report slows every model of a round alike; each model's
speed-up is the median over rounds of its ratio to the first model.
"""
import statistics
import time


def interleaved_timing(nets, inputs, repeats: int, device: str = 'cpu'):
    """Run ``nets`` round-robin on ``inputs`` ``repeats + 1`` times.

    Args:
        nets (Sequence[Callable]): Models (in eval mode, on ``device``); the
            first is the reference of the speed-ups.
        inputs: Passed to every model.
        repeats (int): Timed rounds after the warm-up round; at least 1.
        device (str): ``'cuda...'`` synchronises around each call.

    Returns:
        tuple: The last round's outputs, each model's median seconds, and
        each model's median per-round speed-up over the first (1.0 for it).
    """
    import torch
    if repeats < 1:
        raise ValueError(f'repeats: expected at least 1 timed round, got {repeats}')
    cuda = str(device).startswith('cuda')
    times = [[] for _ in nets]
    with torch.inference_mode():
        for round_ in range(repeats + 1):
            outs = []
            for net, spent in zip(nets, times):
                if cuda:
                    torch.cuda.synchronize()
                start = time.perf_counter()
                outs.append(net(inputs))
                if cuda:
                    torch.cuda.synchronize()
                if round_:  # round 0 is the warm-up
                    spent.append(time.perf_counter() - start)
    medians = [statistics.median(t) for t in times]
    speedups = [statistics.median(r / t for r, t in zip(times[0], spent)) for spent in times]
    return outs, medians, speedups
