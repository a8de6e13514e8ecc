# The few-shot segmentation demo (docs/fewshot.md, tools/fewshot_seg/run_demo.sh): the
# PASCAL-5i EXPRES config, pipelines and metric unchanged, on timm's small `test_vit`
# (width 64, patch 32: 15x15 tokens at 480 px; random weights written by
# tools/fewshot_seg/make_demo_data.py, as no pretrained ViT can be downloaded here) and
# generated scenes in PASCAL VOC's layout; 400 iterations of 4 episodes. Its mIoU shows
# that the pipeline runs, and says nothing about EXPRES on real data.
_base_ = ['../fewshot/expres_vit-b16_proto_1xb8-20k_pascal5i-480x480.py']

data_root = 'data/fewshot_seg_demo/VOCdevkit/VOC2012'
min_pixels = 16     # the scenes are 48 px: PFENet's 2*32*32 would leave no image
num_episodes = 100
embed_dims = 64
max_iters = 400

model = dict(
    backbone=dict(arch='test_vit', pretrained='data/fewshot_seg_demo/vit_demo.pth',
                  vit_cfg=dict(patch_size=32, embed_dim=embed_dims, depth=4, num_heads=2),
                  out_indices=(2, 3)),
    decode_head=dict(in_channels=embed_dims, num_levels=2, channels=32))
# A CPU run: worker processes would cost more to start than they save.
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=3e-3))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=0,
                        end=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters), logger=dict(interval=20))
randomness = dict(seed=0)  # the same demo numbers on every run (docs/fewshot.md)
