# Baseline on one VTAB-1k task: VPT-deep (Jia et al., ECCV 2022), K prompts replaced at
# every block of the frozen ViT-B/16, VPT's readout (normed class token), linear head;
# same data, schedule and lr x wd protocol as EXPRES.
_base_ = ['../expres_vit-b_vtab.py']

num_tokens = 50  # VPT tunes K per task in {1, 5, 10, 50, 100, 200}; EXPRES uses 5

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmseg.VPTViT',
        arch='vit_base_patch16_224',
        img_size={{_base_.img_size}},
        pretrained={{_base_.pretrained}},
        num_tokens=num_tokens,
        mode='deep',
        readout='cls',
        out_indices=()))
