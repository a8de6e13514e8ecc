"""Check a segmentation data set's files before training: pairs, sizes, channels, labels.

mmseg finds a label out of range only when it loads that mask (for a validation mask, at
the first validation, thousands of iterations in), a colour mask as a list of odd label
values, and a mask of another size as a crash in a transform. :func:`check_split` reads
every image header and every mask of a split once, in parallel, and returns every
problem with its fix; ``tools/check_seg_data.py`` prints them with a per-class table and
``tools/train.py`` runs the same check (cached by file size and mtime) before training.

Masks are read as mmseg's ``LoadAnnotations`` reads them (Pillow, unchanged): a
palette ('P') PNG gives its indices, a grey ('L') or 16-bit PNG its values (values above
255 are refused: mmseg keeps 8 bits of them), and a mask with 3 or 4 channels is a
colour mask, which mmseg cannot use. Images are compared with their masks at the size
they are shown, EXIF orientation applied, as training reads them (:mod:`.orientation`).
"""
import hashlib
import json
import multiprocessing
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from .orientation import ORIENTATION_KIND, exif_orientation, orientation_problem, shown_size



def clone_tool(relative: str) -> str:
    """The absolute path of a tool of this clone (``tools/...`` beside the package), so
    that a command in a message runs from the user's own folder; the relative path where
    the package is installed without the clone's tools."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    path = osp.join(root, relative)
    return path if osp.isfile(path) else relative


CONVERTER = clone_tool('tools/dataset_converters/colour_masks_to_labels.py')
CHECKER = clone_tool('tools/check_seg_data.py')
WIDE_KIND = 'label above 255'


@dataclass
class SplitSpec:
    """Where one split's images and masks are, and what labels its masks may hold."""
    name: str
    img_dir: str
    seg_dir: str
    num_classes: int
    img_suffix: str = '.jpg'
    seg_suffix: str = '.png'
    reduce_zero_label: bool = False
    ignore_index: int = 255


@dataclass
class SplitReport:
    """What :func:`check_split` found: problems (kind, path, message) and label counts."""
    spec: SplitSpec
    pairs: int = 0
    problems: List[Tuple[str, str, str]] = field(default_factory=list)
    #: label (after reduce_zero_label) -> [images containing it, pixels]
    class_counts: Dict[int, List[int]] = field(default_factory=dict)
    #: pairs read from disk by this run (the others' results came from the cache)
    read: int = 0


def _files(folder: str, suffix: str) -> Dict[str, str]:
    """``{name without suffix, relative to folder: path}`` of the files under ``folder``."""
    found = {}
    for root, _, names in os.walk(folder, followlinks=True):
        for n in names:
            if n.endswith(suffix):
                path = osp.join(root, n)
                found[osp.relpath(path, folder)[:-len(suffix)]] = path
    return found


def pair_files(spec: SplitSpec) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str, str]]]:
    """Image/mask pairs by name, and a problem for every image or mask without a partner."""
    problems = []
    for folder in (spec.img_dir, spec.seg_dir):
        if not osp.isdir(folder):
            problems.append(('missing folder', folder, (
                f'{spec.name}: folder {folder} does not exist; expected layout '
                f'{spec.img_dir}/**/<name>{spec.img_suffix} with '
                f'{spec.seg_dir}/**/<name>{spec.seg_suffix}. Set data_root (the data set\'s '
                'folder) in the config, or move the files there')))
    images, masks = _files(spec.img_dir, spec.img_suffix), _files(spec.seg_dir, spec.seg_suffix)
    for name in sorted(images.keys() - masks.keys()):
        problems.append(('image without mask', images[name],
                         f'no mask {osp.join(spec.seg_dir, name + spec.seg_suffix)}: put '
                         'its mask there (same relative path and name), or move the image '
                         'out of the folder'))
    for name in sorted(masks.keys() - images.keys()):
        problems.append(('mask without image', masks[name],
                         f'no image {osp.join(spec.img_dir, name + spec.img_suffix)}: put '
                         'its image there, or remove the mask (images of another suffix '
                         f'than {spec.img_suffix}: set img_suffix)'))
    if not images and osp.isdir(spec.img_dir):
        problems.append(('no images', spec.img_dir,
                         f'no *{spec.img_suffix} files (check img_suffix)'))
    pairs = [(images[n], masks[n]) for n in sorted(images.keys() & masks.keys())]
    return pairs, problems


def read_pair(task: Tuple[str, str, bool]) -> dict:
    """Read one image (header, or all pixels when ``decode_image``) and one mask.

    Returns a plain dict (cacheable as JSON): ``image_size`` (w, h, as shown),
    ``orientation`` and ``stored_size`` (EXIF-rotated images only) or ``image_error``;
    ``mask_size``, ``channels``, ``equal_channels`` and ``counts`` (raw value -> pixels)
    or ``mask_error``.
    """
    img_path, seg_path, decode_image = task
    out: dict = {}
    try:
        with Image.open(img_path) as img:
            orientation = exif_orientation(img)
            out['image_size'] = list(shown_size(img.size, orientation))
            if orientation != 1:
                out['orientation'], out['stored_size'] = orientation, list(img.size)
            if decode_image:
                # JPEGs decode at 1/8 scale: every byte is still read and entropy-decoded
                # (a truncated or corrupt file fails), at half the cost; others ignore it
                img.draft(img.mode, (img.size[0] // 8, img.size[1] // 8))
                img.load()
    except Exception as err:  # noqa: BLE001 - any decoder error means "unusable file"
        out['image_error'] = f'{type(err).__name__}: {err}'
    try:
        with Image.open(seg_path) as mask:
            out['mask_size'] = list(mask.size)
            if mask.mode in ('L', 'P'):  # 8-bit labels: Pillow counts them as it decodes
                out['channels'] = 1
                out['counts'] = {v: c for v, c in enumerate(mask.histogram()) if c}
                return out
            labels = np.asarray(mask)
    except Exception as err:  # noqa: BLE001
        out['mask_error'] = f'{type(err).__name__}: {err}'
        return out
    out['channels'] = 1 if labels.ndim == 2 else labels.shape[2]
    if out['channels'] > 1:
        rgb = labels[..., :3]
        out['equal_channels'] = bool((rgb == rgb[..., :1]).all())
        return out
    if labels.dtype == np.uint8:
        counts = np.bincount(labels.ravel(), minlength=256)
        values = np.flatnonzero(counts)
        out['counts'] = {int(v): int(counts[v]) for v in values}
    else:
        values, counts = np.unique(labels, return_counts=True)
        out['counts'] = {int(v): int(c) for v, c in zip(values, counts)}
    return out


def train_labels(raw: Dict[int, int], spec: SplitSpec) -> Dict[int, int]:
    """Raw mask values -> the labels training sees (mmseg's ``reduce_zero_label``)."""
    if not spec.reduce_zero_label:
        return dict(raw)
    out: Dict[int, int] = {}
    for value, pixels in raw.items():
        label = spec.ignore_index if value in (0, spec.ignore_index) else value - 1
        out[label] = out.get(label, 0) + pixels
    return out


def _mask_problems(result: dict, img: str, seg: str, spec: SplitSpec) -> List[tuple]:
    if 'image_error' in result:
        return [('undecodable image', img, f'cannot decode: {result["image_error"]}; '
                 'replace the file or remove the pair')]
    if 'mask_error' in result:
        return [('undecodable mask', seg, f'cannot decode: {result["mask_error"]}; '
                 'replace the file or remove the pair')]
    problems = []
    if result['channels'] > 1:
        # the converter writes a folder: the split's masks into a sibling folder that
        # then takes their place
        folders = f'{spec.seg_dir} {spec.seg_dir.rstrip(os.sep)}_labels'
        fix = (f'its colour channels are equal: keep one with `python {CONVERTER} '
               f'{folders} --grey`' if result.get('equal_channels') else
               f'convert colour masks to label indices with `python {CONVERTER} '
               f'{folders} --palette PALETTE` (PALETTE: a file with "name r g b" a line, '
               'or JSON, one colour per class in label order; --ignore-colour R,G,B for '
               'void colours)')
        fix += f', then use the new folder as {spec.seg_dir}'
        problems.append(('colour mask', seg, f'{result["channels"]}-channel (colour) mask; '
                         f'masks must be single-channel label indices: {fix}'))
    else:
        problems += _size_problems(result, img, seg)
    if 'counts' in result:
        problems += _label_problems({int(k): v for k, v in result['counts'].items()}, seg,
                                    spec)
    return problems


def _size_problems(result: dict, img: str, seg: str) -> List[tuple]:
    """An EXIF-rotated image its mask may not cover, or a mask of another size."""
    if result.get('orientation'):
        turned = orientation_problem(img, seg, result['orientation'], result['stored_size'],
                                     result['mask_size'])
        if turned:
            return [(ORIENTATION_KIND, seg, turned)]
    (mw, mh), (iw, ih) = result['mask_size'], result['image_size']
    if (mw, mh) == (iw, ih):
        return []
    shown = (f' as shown (EXIF orientation {result["orientation"]}; stored '
             f'{ih}x{iw})' if result.get('orientation') in (5, 6, 7, 8) else '')
    return [('size mismatch', seg, f'mask is {mw}x{mh} (w x h) but its image {img} is '
             f'{iw}x{ih}{shown}. Masks must cover their image pixel for pixel: export the '
             'mask again at its image\'s size or, if it is the same picture scaled, resize '
             'it with nearest neighbour (never smoothing, which invents labels): python -c '
             f'"from PIL import Image; m = Image.open(\'{seg}\'); '
             f'm.resize(({iw}, {ih}), Image.NEAREST).save(\'{seg}\')"')]


def _label_problems(raw: Dict[int, int], seg: str, spec: SplitSpec) -> List[tuple]:
    """Values above 8 bits, and labels (after reduce_zero_label) outside the classes."""
    wide = sorted(v for v in raw if v > 255)
    problems = []
    if wide:
        problems.append((WIDE_KIND, seg, f'label values {wide[:10]} above 255 in a 16-bit '
                         'mask: mmseg keeps only their low 8 bits (they would train and be '
                         f'scored as {[v % 256 for v in wide[:10]]}, with no error). Map the '
                         f'labels to 0..{spec.num_classes - 1} (255 for ignored pixels) and '
                         'save the masks as 8-bit PNGs.'))
    labels = train_labels({v: n for v, n in raw.items() if v <= 255}, spec)
    bad = sorted(v for v in labels if v >= spec.num_classes and v != spec.ignore_index
                 or v < 0)
    if bad:
        problems.append(('label out of range', seg, f'label values {bad[:10]} outside '
                         f'[0, {spec.num_classes}) and not {spec.ignore_index} '
                         f'(reduce_zero_label={spec.reduce_zero_label}). If the data set has '
                         'more classes, add them to `classes` (label i is its line i + 1); '
                         f'pixels to leave out of training must be {spec.ignore_index}.'))
    return problems


#: what :func:`read_pair` records; a cache of another version is read again
CACHE_VERSION = 2  # 2: images' EXIF orientation


def _cache_path(spec: SplitSpec) -> str:
    root = os.environ.get('MMSEG_EXPRES_CACHE') or osp.join(
        os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache'), 'mmseg-expres')
    key = hashlib.sha1(f'{CACHE_VERSION}|{osp.abspath(spec.img_dir)}|'
                       f'{osp.abspath(spec.seg_dir)}'.encode())
    return osp.join(root, 'seg_checks', key.hexdigest()[:16] + '.json')


def _stamp(path: str) -> str:
    st = os.stat(path)
    return f'{st.st_size}:{st.st_mtime_ns}'


def _reusable(entry: dict, stamp: str, decode_images: bool) -> bool:
    """Whether a cached result answers this run: its files are unchanged and it read
    at least as much (a decoded image serves a header-only run, not the reverse)."""
    return entry.get('stamp') == stamp and (entry.get('decoded', False) or not decode_images)


def check_split(spec: SplitSpec, nproc: int = 2, decode_images: bool = True,
                use_cache: bool = False, progress: bool = True) -> SplitReport:
    """Check every pair of a split; collect every problem and the per-class counts.

    Args:
        spec: the split.
        nproc: reading processes.
        decode_images: decode every image fully (else read headers only, as the
            pre-training check does).
        use_cache: reuse results of files whose size and mtime are unchanged and that
            were decoded if ``decode_images`` asks for it (kept under
            ``$MMSEG_EXPRES_CACHE`` or ``~/.cache/mmseg-expres``).
        progress: show a progress bar.
    """
    from mmengine.utils import track_parallel_progress, track_progress
    report = SplitReport(spec)
    pairs, report.problems = pair_files(spec)
    report.pairs = len(pairs)
    cache_file = _cache_path(spec)
    cache: dict = {}
    if use_cache and osp.isfile(cache_file):
        with open(cache_file) as f:
            cache = json.load(f)
    stamps = [f'{_stamp(i)}|{_stamp(s)}' for i, s in pairs]
    todo = [(i, s, decode_images) for (i, s), st in zip(pairs, stamps)
            if not _reusable(cache.get(s, {}), st, decode_images)]
    report.read = len(todo)
    if todo:
        if nproc > 1 and len(todo) > 32 and progress:
            results = track_parallel_progress(read_pair, todo, nproc, chunksize=16)
        elif nproc > 1 and len(todo) > 32:
            with multiprocessing.Pool(nproc) as pool:
                results = pool.map(read_pair, todo, chunksize=16)
        else:
            results = track_progress(read_pair, todo) if progress else list(map(read_pair, todo))
        for (img, seg, _), result in zip(todo, results):
            cache[seg] = dict(result, stamp=f'{_stamp(img)}|{_stamp(seg)}',
                              decoded=decode_images)
        if use_cache:
            os.makedirs(osp.dirname(cache_file), exist_ok=True)
            partial = f'{cache_file}.{os.getpid()}'  # ranks of one run may write at once
            with open(partial, 'w') as f:
                json.dump(cache, f)
            os.replace(partial, cache_file)
    for img, seg in pairs:
        result = cache[seg]
        report.problems += _mask_problems(result, img, seg, spec)
        for label, pixels in train_labels(
                {int(k): v for k, v in result.get('counts', {}).items()}, spec).items():
            entry = report.class_counts.setdefault(label, [0, 0])
            entry[0] += 1
            entry[1] += pixels
    return report


def zero_label_hint(reports: Sequence[SplitReport]) -> Optional[str]:
    """Why labels may be out of range by one: 1-based classes with 0 for "unlabelled"."""
    for report in reports:
        spec = report.spec
        out = {v for v in report.class_counts if v >= spec.num_classes
               and v != spec.ignore_index}
        if not spec.reduce_zero_label and out == {spec.num_classes} and 0 in report.class_counts:
            return (f'{spec.name}: the only value out of range is {spec.num_classes} and 0 '
                    f'occurs: the labels look 1-based with 0 marking unlabelled pixels '
                    f'(ADE20K\'s convention). If so, set reduce_zero_label=True (0 is then '
                    f'ignored and 1..{spec.num_classes} become 0..{spec.num_classes - 1}); '
                    'otherwise a class is missing from `classes`.')
    return None


def splits_from_config(cfg, loaders: Sequence[str] = ('train_dataloader', 'val_dataloader',
                                                       'test_dataloader')) -> List[SplitSpec]:
    """The splits a (resolved) segmentation config reads, each folder pair once.

    Data sets that list their samples in an ``ann_file`` are read as whole folders.
    """
    from .class_count import dataset_class_count, head_configs
    from .layout import _suffix_default
    specs: Dict[Tuple[str, str], SplitSpec] = {}
    heads = head_configs(cfg.model)  # none: not a semantic segmentation config
    for key in loaders if heads else ():
        dataset = (cfg.get(key) or {}).get('dataset')
        if not isinstance(dataset, dict) or not isinstance(dataset.get('data_prefix'), dict):
            continue
        root, prefix = dataset.get('data_root') or '', dataset['data_prefix']
        img_dir = osp.join(root, prefix.get('img_path', ''))
        seg_dir = osp.join(root, prefix.get('seg_map_path', ''))
        count = dataset_class_count(dataset) or heads[0][1].get('num_classes')
        if (img_dir, seg_dir) in specs or count is None:
            continue

        def setting(name, default):
            value = dataset.get(name)
            return _suffix_default(dataset['type'], name) if value is None else value
        specs[img_dir, seg_dir] = SplitSpec(
            name=key.replace('_dataloader', ''), img_dir=img_dir, seg_dir=seg_dir,
            num_classes=count, img_suffix=setting('img_suffix', '.jpg'),
            seg_suffix=setting('seg_map_suffix', '.png'),
            reduce_zero_label=bool(setting('reduce_zero_label', False)),
            ignore_index=dataset.get('ignore_index', 255))
    return list(specs.values())
