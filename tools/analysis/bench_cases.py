"""The models and steps that ``benchmark.py`` measures, one builder per kind of case."""
import contextlib
import copy
import importlib.util
import os.path as osp
from typing import Callable, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench_utils import EVERY_ROW, Case, optimizer_state_bytes

from mmseg_expres.models import ExpresTask, MultiTaskExpres
from mmseg_expres.models import ExpresViT, PeftViT, VPTViT
from mmseg_expres.models.backbones.frozen_vit import plain_vit_key
from mmseg_expres.models.backbones.expres_prompts import DEFAULT_SITES, ExpresPrompts

#: The tiny ViT of the test suite (``--quick``) and ViT-B/16.
TINY_VIT = dict(arch='test_vit', vit_cfg=dict(patch_size=8, embed_dim=32, depth=4,
                                              num_heads=2))
VIT_B = dict(arch='vit_base_patch16_224')


def vit_kwargs(quick: bool, img_size: int, arch: str = VIT_B['arch']) -> dict:
    return dict(copy.deepcopy(TINY_VIT) if quick else dict(arch=arch), img_size=img_size)


def load_plain_weights(vit: nn.Module, weights: dict) -> None:
    """Load a plain timm ViT state dict into ``vit``, whose layers adapters may wrap."""
    state = vit.state_dict()
    state.update({key: weights[plain_vit_key(key)] for key in state
                  if plain_vit_key(key) in weights})
    vit.load_state_dict(state)


def peft_backbones(common: dict) -> List[Tuple[str, nn.Module]]:
    """The PEFT baselines as ``configs/_base_/baselines.py`` sets them, cls readout."""
    return [
        ('LoRA (r=8, qkv)', PeftViT(method='lora', out_indices=(), readout='cls', **common)),
        ('AdaptFormer (r=8)', PeftViT(method='adaptformer', adapter_dim=8, out_indices=(),
                                      readout='cls', **common)),
        ('SSF', PeftViT(method='ssf', out_indices=(), readout='cls', **common)),
    ]


def _trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def no_grad(fn: Callable[[], object], autocast: Optional[torch.dtype] = None,
            device_type: str = 'cpu') -> Callable[[], None]:
    """A step that calls ``fn`` without autograd (optionally under autocast)."""
    def step() -> None:
        ctx = (torch.autocast(device_type, dtype=autocast) if autocast
               else contextlib.nullcontext())
        with torch.no_grad(), ctx:
            fn()
    return step


def amp_dtype(device: torch.device) -> torch.dtype:
    """What ``tools/train.py --amp`` trains in: fp16 (loss-scaled) on CUDA, bf16 on CPU."""
    return torch.float16 if device.type == 'cuda' else torch.bfloat16


def _train_step_case(name: str, model: nn.Module, loss_fn: Callable[[], Tensor],
                     trainable: int, autocast: Optional[torch.dtype] = None) -> Case:
    """forward + backward + AdamW step on ``model``'s trainable parameters.

    ``autocast``: train in that dtype, as ``AutocastOptimWrapper`` does (fp16 with a
    dynamic loss scale).
    """
    model.train()
    device = next(model.parameters()).device.type
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=1e-4)
    scaler = torch.amp.GradScaler(device, enabled=autocast == torch.float16)

    def step() -> None:
        ctx = (torch.autocast(device, dtype=autocast) if autocast
               else contextlib.nullcontext())
        with ctx:
            loss = loss_fn()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return Case(name, step, prepare=lambda: optimizer.zero_grad(set_to_none=True),
                persistent_bytes=lambda: optimizer_state_bytes(optimizer),
                trainable=trainable)


class _Classifier(nn.Module):
    """backbone -> last output (the (B, C) readout) -> linear head."""

    def __init__(self, backbone: nn.Module, feature_dim: int, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.backbone(images)[-1])


def classification_cases(quick: bool, images: Tensor, labels: Tensor, num_classes: int,
                         num_tokens: int, vpt_tokens: int,
                         arch: str = VIT_B['arch']) -> List[Case]:
    """Training steps of every method, plus the frozen no-grad forward (the floor)."""
    common = vit_kwargs(quick, images.shape[-1], arch)
    reference = ExpresViT(num_tokens=0, residual_sites=(), out_indices=(), readout='cls',
                          **common).to(images.device)
    weights = reference.vit.state_dict()
    vit = reference.vit

    def floor() -> None:
        with torch.no_grad():
            vit.forward_head(vit.forward_features(images), pre_logits=True)

    def classifier(backbone: nn.Module) -> _Classifier:
        load_plain_weights(backbone.vit, weights)  # same weights for every method
        return _Classifier(backbone, backbone.embed_dim, num_classes).to(images.device)

    def cross_entropy(model: nn.Module) -> Callable[[], Tensor]:
        return lambda: F.cross_entropy(model(images), labels)

    methods = [
        ('EXPRES one-way', ExpresViT(num_tokens=num_tokens, visibility='one_way',
                                     out_indices=(), readout='mean', **common)),
        ('EXPRES full', ExpresViT(num_tokens=num_tokens, visibility='full', out_indices=(),
                                  readout='mean', **common)),
        (EVERY_ROW, ExpresViT(num_tokens=num_tokens, visibility='full',
                              residual_scope='all', out_indices=(), readout='mean',
                              **common)),
        (f'VPT-deep (K={vpt_tokens})', VPTViT(num_tokens=vpt_tokens, mode='deep',
                                             out_indices=(), readout='cls', **common)),
        ('linear probe', ExpresViT(num_tokens=0, residual_sites=(), out_indices=(),
                                   readout='cls', **common)),
        ('full fine-tuning', ExpresViT(num_tokens=0, residual_sites=(), frozen=False,
                                       out_indices=(), readout='cls', **common)),
    ] + peft_backbones(common)
    cases = [Case('frozen forward, no grad (floor)', floor, trainable=0)]
    for name, backbone in methods:
        model = classifier(backbone)
        cases.append(_train_step_case(name, model, cross_entropy(model), _trainable(backbone)))
    return cases


def inference_cases(quick: bool, images: Tensor, num_classes: int, num_tokens: int,
                    num_tasks: int, arch: str = VIT_B['arch']) -> List[Case]:
    """No-grad forwards: plain ViT, EXPRES (one-way and full), T tasks at once."""
    common = vit_kwargs(quick, images.shape[-1], arch)
    one_way = ExpresViT(num_tokens=num_tokens, visibility='one_way', out_indices=(),
                        readout='mean', **common).to(images.device).eval()
    full = ExpresViT(num_tokens=num_tokens, visibility='full', out_indices=(),
                     readout='mean', **common).to(images.device).eval()
    every_row = ExpresViT(num_tokens=num_tokens, visibility='full', residual_scope='all',
                          out_indices=(), readout='mean', **common).to(images.device).eval()
    full.vit.load_state_dict(one_way.vit.state_dict())
    every_row.vit.load_state_dict(one_way.vit.state_dict())
    vit, width = one_way.vit, one_way.embed_dim
    depth, patch = len(vit.blocks), vit.patch_embed.patch_size[0]
    tasks = [ExpresTask(ExpresPrompts(num_tokens, width, DEFAULT_SITES, range(depth),
                                      'xavier', patch), nn.Linear(width, num_classes))
             for _ in range(num_tasks)]
    multi = MultiTaskExpres(one_way, tasks).to(images.device).eval()
    peft = []
    for name, backbone in peft_backbones(common):
        load_plain_weights(backbone.vit, vit.state_dict())
        peft.append((name, backbone.to(images.device).eval()))
        if backbone.method in ('lora', 'ssf'):
            merged = copy.deepcopy(backbone)
            merged.merge_()  # as tools/export_full_checkpoint.py --merge writes it
            peft.append((f'{name}, merged', merged))

    def forward(model: nn.Module) -> Callable[[], None]:
        return no_grad(lambda: model(images))

    return [
        Case('plain ViT forward', no_grad(
            lambda: vit.forward_head(vit.forward_features(images), pre_logits=True))),
        Case(f'EXPRES one-way, K={num_tokens}', no_grad(lambda: one_way(images))),
        Case(f'EXPRES full, K={num_tokens}', no_grad(lambda: full(images))),
        Case(f'{EVERY_ROW}, K={num_tokens}', no_grad(lambda: every_row(images))),
        Case(f'{num_tasks} tasks, one-way (MultiTaskExpres)', no_grad(lambda: multi(images))),
    ] + [Case(name, forward(model)) for name, model in peft]


#: The segmentation models timed: mmseg's own config of the model, the timm ViT that
#: EXPRES wraps in its place.
SEG_MODELS = {
    'upernet': (('_base_', 'models', 'upernet_vit-b16_ln_mln.py'), 'vit_base_patch16_224'),
    'setr': (('setr', 'setr_vit-l_pup_8xb2-160k_ade20k-512x512.py'), 'vit_large_patch16_224'),
}


def _mmseg_model_cfg(model: str, quick: bool) -> dict:
    """mmseg's model config (ViT-B UperNet, or ViT-L SETR-PUP as VPT's table uses), with
    BN instead of SyncBN (one process); ``quick``: on the tiny ViT."""
    from mmengine.config import Config
    root = osp.dirname(importlib.util.find_spec('mmseg').origin)
    cfg = Config.fromfile(osp.join(root, '.mim', 'configs', *SEG_MODELS[model][0])).model
    cfg = cfg.to_dict()
    cfg.pop('pretrained', None)  # EncoderDecoder would hand it to the backbone
    cfg['backbone'].pop('init_cfg', None)
    aux = cfg.get('auxiliary_head') or []
    heads = [cfg['decode_head']] + (aux if isinstance(aux, list) else [aux])
    for head in heads:
        head['norm_cfg'] = dict(type='BN', requires_grad=True)
    if quick:
        width = TINY_VIT['vit_cfg']['embed_dim']
        cfg['backbone'].update(img_size=(32, 32), patch_size=8, embed_dims=width,
                               num_layers=4, num_heads=2, out_indices=(0, 1, 2, 3))
        if cfg.get('neck'):
            cfg['neck'].update(in_channels=[width] * 4, out_channels=width)
        for head in heads:
            multi = isinstance(head['in_channels'], list)
            head.update(in_channels=[width] * 4 if multi else width, channels=16)
    return cfg


def _build_segmentor(cfg: dict) -> nn.Module:
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):  # mmseg's data pre-processor
        return MODELS.build(cfg)


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bf16 autocast can be timed meaningfully on ``device``.

    CPUs without native bf16 (no AVX512-BF16/AMX) emulate it: on the AVX2 development
    machine a bf16 GEMM ran 7x slower than fp32 and a 3x3 convolution over 100x slower,
    so a bf16 UperNet step would take hours there.
    """
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def segmentation_cases(quick: bool, images: Tensor, num_tokens: int,
                       amp: bool = True, model: str = 'upernet') -> List[Case]:
    """Training steps of ``model`` (:data:`SEG_MODELS`): mmseg's ViT fine-tuning vs
    EXPRES full, in fp32 and AMP (:func:`amp_dtype`), and EXPRES full with activation
    checkpointing.

    ``amp=False`` leaves out the AMP cases (see :func:`bf16_is_fast`).
    """
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    cfg = _mmseg_model_cfg(model, quick)
    num_classes = cfg['decode_head']['num_classes']
    batch, _, height, width = images.shape
    labels = torch.randint(0, num_classes, (batch, 1, height, width),
                           generator=torch.Generator().manual_seed(1)).to(images.device)
    samples = []
    for label in labels:
        sample = SegDataSample(metainfo=dict(img_shape=(height, width),
                                             pad_shape=(height, width)))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    expres_cfg = dict(type='ExpresViT', num_tokens=num_tokens, visibility='full',
                      out_indices=tuple(cfg['backbone']['out_indices']),
                      **vit_kwargs(quick, height, SEG_MODELS[model][1]))

    def loss_of(segmentor: nn.Module) -> Callable[[], Tensor]:
        def loss() -> Tensor:
            losses = segmentor.loss(images, samples)
            return sum(value for key, value in losses.items() if 'loss' in key)
        return loss

    amp_dt = amp_dtype(images.device)
    # no one-way EXPRES here: UperNet reads the maps only, which in one-way visibility
    # never see the prompts, so ExpresViT refuses it (the cls section times one-way)
    variants: List[Tuple[str, dict, Optional[torch.dtype]]] = [
        ('mmseg ViT fine-tuning', cfg['backbone'], None),
        ('mmseg ViT fine-tuning + AMP', cfg['backbone'], amp_dt),
        ('EXPRES full', expres_cfg, None),
        ('EXPRES full + AMP', expres_cfg, amp_dt),
        ('EXPRES full + checkpointing', dict(expres_cfg, with_cp=True), None),
    ]
    if not amp:
        variants = [variant for variant in variants if variant[2] is None]
    cases = []
    for name, backbone_cfg, dtype in variants:
        torch.manual_seed(0)
        segmentor = _build_segmentor(dict(cfg, backbone=backbone_cfg)).to(images.device)
        cases.append(_train_step_case(name, segmentor, loss_of(segmentor),
                                      _trainable(segmentor.backbone), autocast=dtype))
    return cases
