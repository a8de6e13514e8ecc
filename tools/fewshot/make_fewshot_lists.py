"""Draw K-shot lists from a full training list, in NOAH's file names and format.

    python tools/fewshot/make_fewshot_lists.py TRAIN_LIST [--out-dir DIR]
        [--shots 1 2 4 8 16] [--seeds 0 1 2] [--dataset NAME | --num-classes N]
        [--overwrite]

Writes ``<out-dir>/train_meta.list.num_shot_<K>.seed_<S>`` (``relative/path label`` lines,
K per class, classes in order) for every shot and seed; ``--out-dir`` defaults to the
training list's folder, e.g. ``data/few-shot/oxford-pets/annotations``. The draw is
stratified, seeded and deterministic, and the lists of one seed are nested
(mmseg_expres/datasets/fewshot_sampling.py). A class with fewer than K distinct images
stops the tool before it writes anything, naming every such class. Existing lists (e.g.
NOAH's published ones) are kept unless ``--overwrite``.

With ``--dataset`` (a benchmark data set) or ``--num-classes``, every class
``0 .. N-1`` must have K images; without, the classes are the labels present.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

from mmseg_expres.datasets.fgvc_fewshot.benchmark import SEEDS, SHOTS, get_dataset, shot_list_name
from mmseg_expres.datasets.fgvc_fewshot.sampling import draw_shots
from mmseg_expres.datasets.lists.files import read_list_file, write_list_file


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw K-shot lists from a training list.')
    parser.add_argument('train_list', help='full training list (relative/path label lines)')
    parser.add_argument('--out-dir', help="where the lists go (default: the training "
                        "list's folder)")
    parser.add_argument('--shots', nargs='+', type=int, default=SHOTS)
    parser.add_argument('--seeds', nargs='+', type=int, default=SEEDS)
    classes = parser.add_mutually_exclusive_group()
    classes.add_argument('--dataset', help='a benchmark data set: its class count is known')
    classes.add_argument('--num-classes', type=int, help='class count of your data set')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace lists that exist (default: refuse)')
    args = parser.parse_args(argv)
    if not osp.isfile(args.train_list):
        parser.error(f'{args.train_list} does not exist.')
    try:
        args.num_classes = (get_dataset(args.dataset).num_classes if args.dataset
                            else args.num_classes)
    except KeyError as err:
        parser.error(err.args[0])
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Draw and write the lists; return the exit status (1: nothing written)."""
    args = parse_args(argv)
    num_classes = args.num_classes
    entries, bad_lines = read_list_file(args.train_list)
    if bad_lines:
        print('The training list has malformed lines:\n  ' + '\n  '.join(bad_lines[:5]))
        return 1
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.train_list))
    paths = {(k, s): osp.join(out_dir, shot_list_name(k, s))
             for k in args.shots for s in args.seeds}
    existing = sorted(p for p in paths.values() if osp.exists(p))
    if existing and not args.overwrite:
        print(f'{len(existing)} list(s) exist already, e.g. {existing[0]}; nothing was '
              'written. Pass --overwrite to replace them, or another --out-dir.')
        return 1
    try:  # draw everything first: a refusal must not leave some lists written
        drawn = {key: draw_shots(entries, key[0], key[1], num_classes) for key in paths}
    except ValueError as err:
        print(f'{args.train_list}: {err}')
        return 1
    for key, rows in drawn.items():
        write_list_file(paths[key], rows)
    print(f'Wrote {len(drawn)} list(s) to {out_dir}: shots {list(args.shots)}, seeds '
          f'{list(args.seeds)}.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
