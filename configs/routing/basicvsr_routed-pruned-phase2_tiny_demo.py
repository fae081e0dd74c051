# Skip routing on top of SSL pruning, phase 2 (load_from=PHASE1.pth, with the
# same model.generator.channel_spec): as basicvsr_routed-phase2_tiny_demo.py.
_base_ = './basicvsr_routed-phase2_tiny_demo.py'
experiment_name = 'basicvsr_routed-pruned-phase2_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
_routing = {{_base_.model.generator.routing}}
model = dict(generator=dict(_delete_=True, type='RoutedPrunedBasicVSRNet', channel_spec=None,
                            routing=_routing))
