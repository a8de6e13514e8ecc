"""Source/target pairs for the transfer study, made here without any download.

Each pair has a *source* (the classes the small ViT is pretrained on, by full supervised
training) and a *target* (other classes, written as a VTAB-1k task: 400 ``train800`` /
100 ``val200`` / the rest ``test``, the layout ``mmseg_expres/datasets/vtab/`` reads).

* ``digits``: scikit-learn's 8x8 handwritten digits (1797 real images), upsampled;
  pretrain on 0-4, transfer to 5-9. ``digits_odd``: pretrain on the even digits,
  transfer to the odd ones.
* ``fractals``: formula-driven images in the manner of FractalDB (Kataoka et al., ACCV
  2020): each class is a random iterated function system, each image a rendering of it
  with its maps perturbed, rotated and flipped; pretrain on 10 systems, transfer to 5
  others.

Pretraining is seeded and cached by its settings (:func:`pretrained_vit`) under
``$MMSEG_EXPRES_CACHE`` (default ``~/.cache/mmseg-expres``).
"""
import hashlib
import json
import math
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Tuple

import numpy as np
from PIL import Image

#: Bump when the images or the pretraining change, so that caches are rebuilt.
DATA_VERSION = 1
#: The VTAB-1k task folder each target is written as: the runner takes the class count
#: from the task name, so a target of C classes uses a VTAB-1k name with C classes.
SLOT_TASKS = {5: 'diabetic_retinopathy', 10: 'svhn'}
TARGET_SIZES = (400, 100)  # train800, val200; the rest is test
MEAN = np.array([123.675, 116.28, 103.53], np.float32)  # the configs' ImageNet mean/std
STD = np.array([58.395, 57.12, 57.375], np.float32)


class Split(NamedTuple):
    """Images (N, S, S, 3) uint8 and labels (N,) 0..C-1 of one side of a pair."""

    images: np.ndarray
    labels: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1


def cache_root() -> str:
    """``$MMSEG_EXPRES_CACHE`` or ``~/.cache/mmseg-expres`` (as the data checks use)."""
    return os.environ.get('MMSEG_EXPRES_CACHE') or osp.join(
        os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache'), 'mmseg-expres')


# ----------------------------------------------------------------------------- digits
def _digits(image_size: int) -> Tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise SystemExit('The digits pairs need scikit-learn: pip install -r '
                         'requirements/tests.txt') from error
    data = load_digits()
    images = []
    for img in data.images:  # 0..16
        gray = Image.fromarray((img * (255.0 / 16.0)).astype(np.uint8))
        gray = gray.resize((image_size, image_size), Image.BICUBIC)
        images.append(np.repeat(np.asarray(gray)[..., None], 3, axis=2))
    return np.stack(images), data.target


def _by_classes(images: np.ndarray, labels: np.ndarray,
                classes: List[int]) -> Split:
    keep = np.isin(labels, classes)
    remap = {c: i for i, c in enumerate(classes)}
    return Split(images[keep], np.array([remap[c] for c in labels[keep]]))


def digits_pair(image_size: int, source_classes: List[int]) -> Tuple[Split, Split]:
    images, labels = _digits(image_size)
    target_classes = [c for c in range(10) if c not in source_classes]
    return (_by_classes(images, labels, source_classes),
            _by_classes(images, labels, target_classes))


# --------------------------------------------------------------------------- fractals
def _random_ifs(rng: np.random.Generator) -> np.ndarray:
    """(M, 2, 3) contractive affine maps ``[A | b]``, 2 to 4 of them."""
    maps = rng.uniform(-1, 1, size=(rng.integers(2, 5), 2, 3))
    for m in maps:
        sigma = np.linalg.norm(m[:, :2], 2)
        if sigma > 0.85:
            m[:, :2] *= 0.85 / sigma
    return maps


def _render(maps: np.ndarray, rng: np.random.Generator, size: int,
            points: int = 3000) -> np.ndarray:
    """(size, size) float image of the IFS attractor: the chaos game, many chains at once."""
    chains, steps = 150, points // 150 + 10
    dets = np.abs(np.linalg.det(maps[:, :, :2])) + 1e-3
    probs = dets / dets.sum()
    xy = rng.uniform(-1, 1, size=(chains, 2))
    out = []
    for step in range(steps):
        pick = maps[rng.choice(len(maps), size=chains, p=probs)]
        xy = np.einsum('nij,nj->ni', pick[:, :, :2], xy) + pick[:, :, 2]
        if step >= 10:  # burn-in: the chains have reached the attractor
            out.append(xy)
    pts = np.concatenate(out)
    pts -= pts.min(0)
    pts /= max(pts.max(), 1e-6)
    pix = np.clip((pts * (size - 3) + 1).astype(int), 0, size - 1)
    img = np.zeros((size, size), np.float32)
    np.add.at(img, (pix[:, 1], pix[:, 0]), 1.0)
    return np.minimum(img / max(np.percentile(img[img > 0], 90), 1e-6), 1.0)


def _fractal_classes(num: int, rng: np.random.Generator, size: int) -> List[np.ndarray]:
    """``num`` systems whose renderings fill between 8 % and 50 % of the image."""
    systems = []
    while len(systems) < num:
        maps = _random_ifs(rng)
        fill = (_render(maps, rng, size) > 0).mean()
        if 0.08 < fill < 0.5:
            systems.append(maps)
    return systems


def _fractal_instance(maps: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """One image of a class: maps perturbed, rotated, maybe flipped, a random colour."""
    jitter = maps * rng.uniform(0.9, 1.1, size=maps.shape)
    img = _render(jitter, rng, size)
    img = np.rot90(img, rng.integers(4))
    if rng.random() < 0.5:
        img = img[:, ::-1]
    colour = rng.uniform(0.4, 1.0, size=3)
    return (img[..., None] * colour * 255).astype(np.uint8)


def fractals_pair(image_size: int, seed: int = 0, source_classes: int = 10,
                  target_classes: int = 5, per_class: Tuple[int, int] = (100, 180)
                  ) -> Tuple[Split, Split]:
    rng = np.random.default_rng(seed)
    systems = _fractal_classes(source_classes + target_classes, rng, image_size)
    splits = []
    for group, count in ((systems[:source_classes], per_class[0]),
                         (systems[source_classes:], per_class[1])):
        images = [_fractal_instance(m, rng, image_size) for m in group for _ in range(count)]
        labels = np.repeat(np.arange(len(group)), count)
        splits.append(Split(np.stack(images), labels))
    return splits[0], splits[1]


#: pair name -> function of the image size giving (source, target).
PAIRS = {
    'digits': lambda size: digits_pair(size, [0, 1, 2, 3, 4]),
    'digits_odd': lambda size: digits_pair(size, [0, 2, 4, 6, 8]),
    'fractals': lambda size: fractals_pair(size),
}


# ------------------------------------------------------------------- VTAB-1k target
def write_vtab_task(target: Split, root: str, seed: int = 0) -> str:
    """Write ``target`` as a VTAB-1k task under ``root``; return its task name.

    Shuffled with ``seed``, then 400 ``train800``, 100 ``val200``, the rest ``test``
    (``train800val200`` is both). Written once: an existing task with its four lists is
    kept.
    """
    task = SLOT_TASKS.get(target.num_classes)
    if task is None:
        raise ValueError(f'No VTAB-1k task name with {target.num_classes} classes to write '
                         f'the target as; known counts: {sorted(SLOT_TASKS)}.')
    folder = osp.join(root, task)
    if osp.isfile(osp.join(folder, 'test.txt')):
        return task
    order = np.random.default_rng(seed).permutation(len(target.labels))
    n_train, n_val = TARGET_SIZES
    if len(order) <= n_train + n_val:
        raise ValueError(f'The target has {len(order)} images; it needs more than '
                         f'{n_train + n_val}.')
    parts = {'train800': order[:n_train], 'val200': order[n_train:n_train + n_val],
             'test': order[n_train + n_val:]}
    lines: Dict[str, List[str]] = {}
    for split, indices in parts.items():
        os.makedirs(osp.join(folder, 'images', split), exist_ok=True)
        lines[split] = []
        for i in indices:
            rel = f'images/{split}/{i:05d}.png'
            Image.fromarray(target.images[i]).save(osp.join(folder, rel), compress_level=1)
            lines[split].append(f'{rel} {target.labels[i]}')
    lines['train800val200'] = lines['train800'] + lines['val200']
    for split in ('train800', 'val200', 'train800val200', 'test'):  # test last: the mark
        with open(osp.join(folder, f'{split}.txt'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines[split]) + '\n')
    return task


# ---------------------------------------------------------------------- pretraining
def settings_key(settings: dict) -> str:
    """A short stable hash of the settings a cached file depends on."""
    text = json.dumps(dict(settings, version=DATA_VERSION), sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _normalise(images: np.ndarray):
    import torch
    x = (images.astype(np.float32) - MEAN) / STD
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def pretrain(source: Split, arch: str, image_size: int, vit_cfg: dict, epochs: int,
             seed: int, lr: float = 1e-3, batch: int = 64, log=print) -> Tuple[dict, float]:
    """Full supervised training of the ViT on ``source``; its weights without the head.

    AdamW with a cosine schedule and random shifts of up to 1/8 of the image; 10 % of the
    source is held out to report the accuracy reached.

    Runs on one thread whatever the caller's setting: a multi-threaded run sums in another
    order, so another thread count pretrains another ViT, and the study's rankings move
    with the ViT (docs/method_study.md, "Two pretrained ViTs").

    Returns:
        The timm state dict (no classifier) and the held-out top-1 (%).
    """
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _pretrain(source, arch, image_size, vit_cfg, epochs, seed, lr, batch, log)
    finally:
        torch.set_num_threads(threads)


def _pretrain(source: Split, arch: str, image_size: int, vit_cfg: dict, epochs: int,
              seed: int, lr: float, batch: int, log) -> Tuple[dict, float]:
    import torch
    import torch.nn.functional as F
    from mmseg_expres.models.backbones.frozen_vit import create_timm_vit

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(source.labels))
    held = max(len(order) // 10, 1)
    x_all, y_all = _normalise(source.images), torch.from_numpy(source.labels).long()
    x_val, y_val = x_all[order[:held]], y_all[order[:held]]
    x_tr, y_tr = x_all[order[held:]], y_all[order[held:]]
    vit = create_timm_vit(arch, image_size, dict(vit_cfg, num_classes=source.num_classes))
    opt = torch.optim.AdamW(vit.parameters(), lr=lr, weight_decay=0.05)
    steps = epochs * math.ceil(len(x_tr) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    shift = image_size // 8
    vit.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x_tr))
        for start in range(0, len(x_tr), batch):
            idx = perm[start:start + batch]
            dx, dy = rng.integers(-shift, shift + 1, size=2)
            xb = torch.roll(x_tr[idx], shifts=(int(dy), int(dx)), dims=(2, 3))
            loss = F.cross_entropy(vit(xb), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if (epoch + 1) % max(epochs // 4, 1) == 0:
            log(f'  pretraining epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}')
    vit.eval()
    with torch.no_grad():
        acc = (vit(x_val).argmax(1) == y_val).float().mean().item() * 100
    vit.reset_classifier(0)
    return vit.state_dict(), acc


def cached_vit(settings: dict, train) -> Tuple[str, float]:
    """Path of the ViT that ``train()`` makes for ``settings``, trained once per settings.

    ``train()`` returns the timm state dict (no head) and its held-out score (%); both
    are kept under the study's cache, named by the settings' key, so that a rerun with
    the same settings reuses the ViT and its score.
    """
    import torch
    folder = osp.join(cache_root(), 'transfer_study')
    path = osp.join(folder, f"{settings['pair']}_vit_{settings_key(settings)}.pth")
    meta = path[:-4] + '.json'
    if osp.isfile(path) and osp.isfile(meta):
        with open(meta, encoding='utf-8') as f:
            return path, json.load(f)['source_top1']
    state, acc = train()
    os.makedirs(folder, exist_ok=True)
    torch.save(state, path + '.tmp')
    os.replace(path + '.tmp', path)
    with open(meta, 'w', encoding='utf-8') as f:
        json.dump(dict(settings, source_top1=acc), f)
    return path, acc


def pretrained_vit(pair: str, source: Split, arch: str, image_size: int, vit_cfg: dict,
                   epochs: int, seed: int, log=print) -> Tuple[str, float]:
    """Path of the ViT pretrained on ``pair``'s source (trained once per settings).

    Returns:
        The .pth path (timm layout, no head) and the held-out source top-1 (%).
    """
    settings = dict(pair=pair, arch=arch, image_size=image_size, vit_cfg=vit_cfg,
                    epochs=epochs, seed=seed)

    def train():
        log(f'pretraining the ViT on {pair} ({len(source.labels)} images, '
            f'{source.num_classes} classes, {epochs} epochs)')
        return pretrain(source, arch, image_size, vit_cfg, epochs, seed, log=log)

    return cached_vit(settings, train)
