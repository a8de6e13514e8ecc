"""The transfer study for segmentation: ``transfer_study.py --task seg``.

    python tools/analysis/transfer_study.py --task seg [--quick] [--pairs ...] [--methods ...]
        [--lrs 1e-4 1e-3 1e-2] [--seeds 42 44 82] [--iters 400]
        [--work-dir work_dirs/transfer_study_seg] [--out table.md]

The target (:mod:`seg_pairs`): scenes of two held-out digits (5-9) each on textured
backgrounds, 64 px, with masks of their regions, written as a custom data set. Two
pairs, two ViTs (the classification study's: 6 blocks, width 96, patch 8, so an 8x8
patch grid), each pretrained at 64 px on scenes of one source digit (0-4) each, seeded
and cached by its settings:

* ``seg-digits``: supervised classification on the mean of the patch tokens
  (:func:`transfer_pairs.pretrained_vit`);
* ``seg-digits-dense``: every patch token classified into background or the digit under
  it (:mod:`seg_pretrain`), so that the patch tokens carry the semantics locally, as a
  large ImageNet ViT's do.

The classification study's ViT (32 px, digits on black) loads at 64 px too (timm
resamples its 4x4 position embedding), but it never saw a textured background nor a
digit off the centre; these saw both, at the grid they are used at.
Every method runs through its shipped custom-data linear-head config
(``configs/expres/expres_vit-b16_linear_8xb2-80k_custom-512x512.py``,
``configs/baselines/*_linear_8xb2-80k_custom-512x512.py``), with the same overrides
for every method, as ``--cfg-options`` would: the ViT (arch, size, pretrained weights,
the final block read), the head's width, the data (root, splits, PNG images), the
ADE20K pipeline's sizes scaled from 512 to 64 px and no flips (a mirrored digit is no
digit), batch 8, the iterations (the warm-up and the poly decay with them), lr, seed. AdamW, weight decay
and the prompts' lr and decay multipliers stay the configs'. The protocol is the
classification study's: every lr trains on ``training`` with the first seed and is read
on ``validation``; the best retrains on ``trainval`` with every seed and is read on
``test``; mIoU over the six classes (background included).
"""
import os.path as osp
from typing import Dict, List

import seg_pairs
import seg_pretrain
import transfer_pairs
from transfer_study import Method, Study

EXPRES_SEG_CFG = 'configs/expres/expres_vit-b16_linear_8xb2-80k_custom-512x512.py'


def baseline_cfg(name: str) -> str:
    return f'configs/baselines/{name}_vit-b16_linear_8xb2-80k_custom-512x512.py'


#: The baselines and EXPRES at its shipped segmentation defaults (full visibility,
#: residuals on the output-token rows), then the every-row reading of the residuals.
METHODS = [
    Method('linear probe, random ViT (control)', baseline_cfg('linear-probe'),
           pretrained=False),
    Method('linear probe', baseline_cfg('linear-probe')),
    Method('VPT-deep', baseline_cfg('vpt-deep')),
    Method('LoRA', baseline_cfg('lora')),
    Method('full fine-tuning', baseline_cfg('finetune')),
    Method('EXPRES (shipped config, residual_scope=tokens)', EXPRES_SEG_CFG),
    Method('EXPRES, residual_scope=all', EXPRES_SEG_CFG,
           {'model.backbone.residual_scope': 'all'}),
    Method('VPT-shallow', baseline_cfg('vpt-shallow')),
    Method('AdaptFormer', baseline_cfg('adaptformer')),
    Method('SSF', baseline_cfg('ssf')),
]
ALL_METHODS = {m.name: m for m in METHODS}
#: The rows of the default run (the others on request): what 30 minutes of two shared
#: cores allow.
DEFAULT_METHODS = [m.name for m in METHODS[:7]]
IMAGE_SIZE = 64
BATCH = 8
PAIR = 'seg-digits'
DENSE_PAIR = 'seg-digits-dense'  # the same target, the densely pretrained ViT
#: Pretraining reads the mean of the patch tokens (timm's ``global_pool='avg'``; the
#: final LayerNorm kept where the class-token ViT has it, so the weights load as any
#: timm ViT's): the class must then be in the patch tokens that a segmentation head
#: reads, not only in the class token.
PRETRAIN_POOL = dict(global_pool='avg', fc_norm=False)


def seg_options(vit: dict, pretrained, iters: int, data_root: str) -> dict:
    """The ``--cfg-options`` every method gets: the ViT, the data, the schedule's length."""
    if iters < 2:
        raise SystemExit(f'--iters must be at least 2 (warm-up and decay), got {iters}.')
    warmup = max(iters // 10, 1)
    size = (IMAGE_SIZE, IMAGE_SIZE)
    # the ADE20K pipeline's sizes (short side 512 of 2048 x 512, 512 crops) at 64 px
    scale = (IMAGE_SIZE * 4, IMAGE_SIZE)
    width = vit['vit_cfg']['embed_dim']
    opts = {
        'model.backbone.arch': vit['arch'], 'model.backbone.img_size': size,
        'model.backbone.vit_cfg': vit['vit_cfg'], 'model.backbone.pretrained': pretrained,
        'model.backbone.out_indices': (vit['vit_cfg']['depth'] - 1,),  # the final block
        'model.data_preprocessor.size': size,
        'model.decode_head.in_channels': width, 'model.decode_head.channels': width,
        'data_root': data_root, 'classes': 'classes.txt', 'img_suffix': '.png',
        'train_dataloader.batch_size': BATCH,
        'train_dataloader.dataset.pipeline.2.scale': scale,
        'train_dataloader.dataset.pipeline.3.crop_size': size,
        'train_dataloader.dataset.pipeline.4.prob': 0.0,  # no flips: digits are not symmetric
        'val_dataloader.dataset.pipeline.1.scale': scale,
        'test_dataloader.dataset.pipeline.1.scale': scale,
        'train_cfg.max_iters': iters, 'train_cfg.val_interval': iters,
        'param_scheduler.0.end': warmup, 'param_scheduler.1.begin': warmup,
        'param_scheduler.1.end': iters,
        'default_hooks.checkpoint.interval': iters,
        'default_hooks.logger.interval': max(iters // 4, 1),
        'log_level': 'WARNING',
    }
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{loader}.num_workers'] = 0
        opts[f'{loader}.persistent_workers'] = False
    return opts


class SegStudy(Study):
    """:class:`transfer_study.Study` on ``seg-digits`` through the segmentation configs."""

    metric, score, label = 'mIoU', 'miou', 'mIoU'
    expres_config = EXPRES_SEG_CFG
    methods, ablations, first_ablations = ALL_METHODS, set(), []
    pairs = {PAIR: 'the ViT pretrained on the mean of its patch tokens',
             DENSE_PAIR: 'the ViT pretrained densely (seg_pretrain.py)'}

    @staticmethod
    def defaults(quick: bool) -> dict:
        return dict(pairs=[PAIR] if quick else [PAIR, DENSE_PAIR],
                    methods=(['linear probe', 'EXPRES, residual_scope=all'] if quick
                             else DEFAULT_METHODS),
                    lrs=[1e-3] if quick else [1e-4, 1e-3, 1e-2],
                    seeds=[42] if quick else [42, 44, 82],
                    iters=4 if quick else 400, pretrain_epochs=1 if quick else 40,
                    work_dir='work_dirs/transfer_study_seg')

    def __init__(self, args) -> None:
        args.ablation_pairs = []
        super().__init__(args)

    def methods_of(self, pair: str) -> List[str]:
        """The rows run on ``pair``: the random-ViT control once, on ``seg-digits`` (on
        the dense pair its runs would be the same runs)."""
        return [m for m in self.args.methods
                if pair != DENSE_PAIR or self.methods[m].pretrained]

    def prepare(self, pair: str) -> dict:
        """The ViT pretrained on source scenes (cached) and the target scenes."""
        digit = self.vit['image_size']  # the classification study's digit size
        source, masks = seg_pairs.source_scenes(IMAGE_SIZE, digit)
        if pair == DENSE_PAIR:
            weights, acc = seg_pretrain.dense_pretrained_vit(
                pair, source.images, masks, self.vit['arch'], IMAGE_SIZE,
                self.vit['vit_cfg'], self.args.pretrain_epochs, seed=self.args.vit_seed,
                log=self.log)
        else:
            weights, acc = transfer_pairs.pretrained_vit(
                pair, source, self.vit['arch'], IMAGE_SIZE,
                dict(self.vit['vit_cfg'], **PRETRAIN_POOL), self.args.pretrain_epochs,
                seed=self.args.vit_seed, log=self.log)
        key = transfer_pairs.settings_key(dict(pair=PAIR, size=IMAGE_SIZE, digit=digit,
                                               scenes=seg_pairs.SCENES,
                                               background=seg_pairs.BACKGROUND,
                                               region=seg_pairs.REGION))
        root = seg_pairs.write_custom_dataset(
            seg_pairs.digit_scenes(IMAGE_SIZE, digit),
            osp.join(transfer_pairs.cache_root(), 'transfer_study', f'seg_{key}'))
        return dict(weights=weights, source_top1=acc, data_root=root,
                    target_classes=len(seg_pairs.CLASSES), scenes=list(seg_pairs.SCENES))

    def options(self, info: dict, method: Method, lr: float, seed: int,
                final: bool) -> dict:
        opts = seg_options(self.vit, info['weights'] if method.pretrained else None,
                           self.args.iters, info['data_root'])
        opts.update({
            'train_split': 'trainval' if final else 'training',
            'val_split': 'test' if final else 'validation',
            'optim_wrapper.optimizer.lr': lr, 'randomness.seed': seed})
        return opts

    def setup(self) -> str:
        a = self.args
        return (f'Test mIoU % (6 classes, background included), mean ± std over seeds '
                f'{", ".join(map(str, a.seeds))}; AdamW head lr (chosen on validation with '
                f'seed {a.seeds[0]}) from {a.lrs}, the prompts at the configs\' multiple; '
                f'{a.iters} iterations of batch {BATCH}; tuned parameters include the head.')

    def notes(self, infos: Dict[str, dict]) -> List[str]:
        reached = {PAIR: 'top-1 on held-out source scenes',
                   DENSE_PAIR: 'pixel accuracy on held-out source scenes'}
        return [f'- {p}: {self.pairs[p]}, on scenes of one digit 0-4 each ({IMAGE_SIZE} '
                f'px): {i["source_top1"]:.1f} % {reached[p]}; target scenes (two digits '
                f'5-9 each) {" / ".join(map(str, i["scenes"]))} training / validation / '
                f'test, {i["target_classes"]} classes.' for p, i in infos.items()]
