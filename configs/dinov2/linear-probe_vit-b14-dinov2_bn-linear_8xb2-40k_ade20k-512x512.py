# DINOv2's linear segmentation probe on ADE20K (Oquab et al., 2023): the frozen ViT-B/14,
# BatchNorm and a linear layer on its last layer's patch tokens; the EXPRES config
# without prompts.
_base_ = ['./expres_vit-b14-dinov2_bn-linear_8xb2-40k_ade20k-512x512.py',
          '../_base_/baselines.py']

model = dict(backbone=_base_.linear_probe)
