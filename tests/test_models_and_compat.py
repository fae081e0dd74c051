"""Real model forwards (mmcv ops on CPU, BasicSR) and the compatibility layers."""
import importlib
import io

import pytest
import torch


def test_importing_plugin_registers_types():
    import vsr_multigrid  # noqa: F401
    from mmagic.registry import DATASETS, DATA_SAMPLERS, HOOKS, LOOPS, PARAM_SCHEDULERS, TRANSFORMS
    assert DATASETS.get('MultigridFramesDataset') is not None
    assert TRANSFORMS.get('MultigridPairedRandomCrop') is not None
    assert DATA_SAMPLERS.get('MultigridBatchSampler') is not None
    assert LOOPS.get('MultigridTrainLoop') is not None
    assert PARAM_SCHEDULERS.get('MultigridLR') is not None
    assert HOOKS.get('ProgressRecorderHook') is not None


def test_iconvsr_forward_uses_mmcv_deform_conv_on_cpu():
    from mmagic.models.editors import IconVSRNet
    from mmcv.ops import ModulatedDeformConv2d  # compiled op, not mmcv-lite
    import mmcv
    assert importlib.util.find_spec('mmcv._ext') is not None, mmcv.__file__
    net = IconVSRNet(mid_channels=64, num_blocks=1, keyframe_stride=5, padding=2)
    assert any(isinstance(m, ModulatedDeformConv2d) for m in net.modules())
    with torch.no_grad():
        out = net(torch.rand(1, 5, 3, 64, 64))
    assert out.shape == (1, 5, 3, 256, 256) and torch.isfinite(out).all()


def test_basicsr_basicvsr_forward():
    from vsr_multigrid.basicsr_ext import build_arch
    net = build_arch('BasicVSR', num_feat=16, num_block=2, spynet_path=None)
    with torch.no_grad():
        out = net(torch.rand(1, 3, 3, 64, 64))
    assert out.shape == (1, 3, 3, 256, 256) and torch.isfinite(out).all()


def test_basicsr_unknown_arch_is_named():
    from vsr_multigrid.basicsr_ext import build_arch
    with pytest.raises(KeyError, match='NoSuchNet'):
        build_arch('NoSuchNet')


def test_mmengine_message_hub_state_needs_and_gets_allow_list():
    """A message hub state (HistoryBuffer + numpy) loads with weights_only=True."""
    from mmengine.logging import MessageHub
    from vsr_multigrid.compat.checkpoint import allow_mmengine_checkpoints
    hub = MessageHub('compat-test')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', torch.tensor(0.25))
    buffer = io.BytesIO()
    torch.save({'message_hub': hub.state_dict()}, buffer)
    torch.serialization.clear_safe_globals()
    try:
        with pytest.raises(Exception, match='HistoryBuffer'):
            torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    finally:
        allow_mmengine_checkpoints()
    state = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    assert state['message_hub']['log_scalars']['train/loss'].current() == 0.25


def test_allow_list_does_not_open_getattr():
    """The getattr that HistoryBuffer needs cannot reach anything else."""
    import pickle
    import vsr_multigrid  # noqa: F401
    from mmengine.logging.history_buffer import HistoryBuffer

    class Exploit:  # a step towards __globals__ and from there os.system
        def __reduce__(self):
            return getattr, (HistoryBuffer, '__init__')

    buffer = io.BytesIO()
    torch.save({'x': Exploit()}, buffer)
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer'):
        torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
