# The few-shot demo (docs/fewshot.md, tools/fewshot/run_demo.sh): the EXPRES few-shot
# config, recipe and schedule unchanged, on timm's small `test_vit` (width 64, patch 32 at
# 224 px, random weights: no pretrained weights can be downloaded here) and data sets of
# 4 classes that tools/fewshot/make_demo_data.py generates; batch 4 for 4-image lists.
# Its accuracy says nothing about EXPRES on real data. The class count is not preset:
# run_demo.sh passes `--cfg-options custom_num_classes=4`, and data of your own must say
# its own (FewShotRunner refuses a list whose labels do not fit the head).
_base_ = ['../expres/expres_vit-b16_1xb64-100e_fgvc-fewshot.py']

fewshot_root = 'data/fewshot_demo'
dataset = 'demo-a'
batch_size = 4
embed_dims = 64

model = dict(
    backbone=dict(arch='test_vit', pretrained=None,
                  vit_cfg=dict(patch_size=32, embed_dim=embed_dims, depth=4, num_heads=2)),
    head=dict(in_channels=embed_dims))
# A CPU run: worker processes would cost more to start than they save.
train_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(interval=100))
