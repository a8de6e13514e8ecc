"""Convert RGB colour masks to the single-channel label PNGs that mmseg trains on.

    python tools/dataset_converters/colour_masks_to_labels.py IN_DIR OUT_DIR \
        --palette palette.json        # or classes file: "name r g b" a line
        [--ignore-colour 0,0,0 ...]   # void colours -> 255 (ignored)
    python tools/dataset_converters/colour_masks_to_labels.py IN_DIR OUT_DIR --grey

Every ``*.png`` under IN_DIR (but not under OUT_DIR, if it lies inside) is written under
OUT_DIR with the same relative path, as a palette PNG whose indices are the labels (it
still shows the colours in a viewer). ``--palette``: colour i of the palette becomes
label i (at most 255 classes: 255 is the ignore index and label maps are 8-bit);
``--ignore-colour`` colours become 255; a colour in neither stops the conversion of that
file and is reported with its pixel count (exit 1). ``--grey``: masks saved as RGB with
three equal channels keep one.
"""
import argparse
import os
import os.path as osp
import sys
from collections import Counter

import numpy as np
from PIL import Image

from mmseg_expres.datasets.segmentation.colour_masks import (MAX_CLASSES,
                                                            check_label_colours,
                                                            colours_to_labels, parse_rgb,
                                                            read_palette)


def masks_to_convert(in_dir: str, out_dir: str, suffix: str):
    """Paths of the masks under ``in_dir``, sorted, leaving out ``out_dir`` (a run that
    writes inside its input must not read its own output)."""
    out = osp.realpath(out_dir)
    for root, dirs, names in os.walk(in_dir):
        dirs[:] = sorted(d for d in dirs if osp.realpath(osp.join(root, d)) != out)
        for name in sorted(n for n in names if n.endswith(suffix)):
            yield osp.join(root, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('in_dir')
    parser.add_argument('out_dir')
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument('--palette', help='JSON palette or classes file with colours')
    mode.add_argument('--grey', action='store_true',
                      help='RGB masks with equal channels: keep one')
    parser.add_argument('--ignore-colour', action='append', default=[], metavar='R,G,B',
                        help='(with --palette) a void colour whose pixels become 255, the '
                        'ignore index; repeat for more')
    parser.add_argument('--suffix', default='.png')
    args = parser.parse_args()

    try:
        ignored = [parse_rgb(text, '--ignore-colour') for text in args.ignore_colour]
        colours = read_palette(args.palette)[1] if args.palette else None
        if colours is not None:
            check_label_colours(colours, ignored)
        elif ignored:
            raise ValueError('--ignore-colour maps colours: use it with --palette.')
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    flat = None
    if colours:  # all 256 entries: Pillow writes a short palette with fewer bits, cutting 255
        void = ignored[0] if ignored else (0, 0, 0)  # label 255 shows as the void colour
        shown = list(colours) + [(0, 0, 0)] * (MAX_CLASSES - len(colours)) + [void]
        flat = [v for c in shown for v in c]
    unknown, refused, written = Counter(), [], 0
    for src in masks_to_convert(args.in_dir, args.out_dir, args.suffix):
        rgb = np.asarray(Image.open(src).convert('RGB'))
        if args.grey:
            if not (rgb == rgb[..., :1]).all():
                refused.append((src, 'channels differ: a colour mask, use --palette'))
                continue
            labels = rgb[..., 0]
        else:
            labels, missing = colours_to_labels(rgb, colours, ignored)
            if missing:
                unknown.update(missing)
                refused.append((src, f'{len(missing)} colour(s) not in the palette'))
                continue
        labels = np.ascontiguousarray(labels, np.uint8)
        size = labels.shape[::-1]
        if flat is None:
            out = Image.frombytes('L', size, labels.tobytes())
        else:  # indices are the labels; the palette only shows them in colour
            out = Image.frombytes('P', size, labels.tobytes())
            out.putpalette(flat)
        dst = osp.join(args.out_dir, osp.relpath(src, args.in_dir))
        os.makedirs(osp.dirname(dst), exist_ok=True)
        out.save(dst)
        written += 1
    print(f'wrote {written} label map(s) to {args.out_dir}')
    if refused:
        print(f'{len(refused)} file(s) not converted:')
        for path, why in refused:
            print(f'  {path}: {why}')
        if unknown:
            print('colours not in the palette (pixels): ' + ', '.join(
                f'{c}: {n}' for c, n in unknown.most_common()))
            print('Add them to the palette, mark void ones with --ignore-colour R,G,B (or '
                  'paint them over) and run again.')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
