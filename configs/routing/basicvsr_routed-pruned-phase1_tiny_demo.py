# Skip routing on top of SSL pruning, phase 1: the estimators learn over a
# fixed pruned backbone (aligned stream layout).
#   --cfg-options model.generator.channel_spec=DIR/channel_spec.json
#                 load_from=FINETUNED.pth   (stage 3's checkpoint, or DIR/pruned.pth)
_base_ = './basicvsr_routed-phase1_tiny_demo.py'
experiment_name = 'basicvsr_routed-pruned-phase1_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
_routing = {{_base_.model.generator.routing}}
model = dict(generator=dict(_delete_=True, type='RoutedPrunedBasicVSRNet', channel_spec=None,
                            routing=_routing))
