"""EXPRES against its baselines on transfer that needs pretrained features, one command.

    python tools/analysis/transfer_study.py [--quick] [--pairs digits fractals]
        [--methods ...] [--lrs 0.02 0.1 1 10] [--seeds 42 44 82] [--epochs 10]
        [--work-dir work_dirs/transfer_study] [--out table.md]
    python tools/analysis/transfer_study.py --task seg ...   (seg_transfer_study.py)

For each pair of :mod:`transfer_pairs` (source classes / other target classes):

1. pretrain the small ViT (6 blocks, width 96, 32 px, patch 8) on the source by full
   supervised training, seeded and cached by its settings;
2. write the target as a VTAB-1k task (400 train800 / 100 val200 / the rest test);
3. run every method through its shipped VTAB-1k config (``configs/expres/...vtab1k.py``,
   ``configs/baselines/*_vtab1k.py``) with a Runner built from it in this process (what
   ``tools/train.py`` does, without a process per run). Only the ViT (arch, size,
   pretrained weights), the head's input width, the epochs (and the warm-up and cosine
   spans with them), lr, seed and the data loaders' worker count are overridden, as
   ``--cfg-options`` would: the same for every method;
4. the VTAB-1k protocol, smaller: every lr of the grid trains on train800 with the first
   seed and is read on val200; the best lr (ties to the smaller) retrains on
   train800val200 with every seed and is read on test. Weight decay stays the config's.

Results go to ``<work-dir>/results.json`` after each run (a rerun skips finished runs),
the table (mean and standard deviation over seeds, the tuned parameters) to ``--out``.
``--quick`` checks that the study runs end to end (a tiny ViT, two methods, one lr, one
seed, two epochs): its numbers mean nothing.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tools' / 'analysis'))
import transfer_pairs  # noqa: E402

EXPRES_CFG = 'configs/expres/expres_vit-b16_1xb128-100e_vtab1k.py'


def baseline_cfg(name: str) -> str:
    return f'configs/baselines/{name}_vit-b16_1xb128-100e_vtab1k.py'


class Method(NamedTuple):
    """One row of the table: a shipped config and the options that make the variant."""

    name: str
    config: str
    options: dict = {}
    pretrained: bool = True  # False: the random ViT (the control that shows transfer)


#: The baselines and EXPRES at its shipped defaults, each exactly its shipped config.
METHODS = [
    Method('linear probe, random ViT (control)', baseline_cfg('linear-probe'),
           pretrained=False),
    Method('linear probe', baseline_cfg('linear-probe')),
    Method('VPT-shallow', baseline_cfg('vpt-shallow')),
    Method('VPT-deep', baseline_cfg('vpt-deep')),
    Method('LoRA', baseline_cfg('lora')),
    Method('AdaptFormer', baseline_cfg('adaptformer')),
    Method('SSF', baseline_cfg('ssf')),
    Method('full fine-tuning', baseline_cfg('finetune')),
    Method('EXPRES (shipped config)', EXPRES_CFG),
]


def expres(name: str, **backbone) -> Method:
    return Method(f'EXPRES, {name}', EXPRES_CFG,
                  {f'model.backbone.{k}': v for k, v in backbone.items()})


#: The other reading of visibility and residual scope, the best EXPRES row of the first
#: study (docs/method_study.md): the ablations around it name it in full, so that a row
#: means the same whatever the shipped config reads.
EVERY_ROW = dict(visibility='full', residual_scope='all')


def every_row(name: str, **backbone) -> Method:
    return expres(f'full, every row, {name}', **EVERY_ROW, **backbone)


def prompt_lr(mult: float) -> Method:
    method = every_row(f'prompt lr x{mult:g} the head\'s')
    return method._replace(options=dict(method.options, **{
        'optim_wrapper.paramwise_cfg': dict(custom_keys={
            'backbone.prompts': dict(lr_mult=mult)})}))


#: The open choices of docs/method_study.md: the three other readings of visibility and
#: residual scope (the shipped config is one-way with token-row residuals), then one
#: change each from full visibility with every-row residuals.
ABLATIONS = [
    expres('full, every row', **EVERY_ROW),
    expres('one-way, every row', visibility='one_way', residual_scope='all'),
    expres('full, token rows', visibility='full', residual_scope='tokens'),
    every_row('token_init=cls', token_init='cls'),
    every_row('token_init=patch_mean', token_init='patch_mean'),
    every_row('residual_init=xavier', residual_init='xavier'),
    every_row('K=1', num_tokens=1),
    every_row('K=20', num_tokens=20),
    every_row('sites +ln2 +mlp', residual_sites=('ln', 'q', 'k', 'v', 'proj', 'ln2', 'mlp')),
    prompt_lr(10.0),
    prompt_lr(0.1),
    # the shipped reading (one-way, token rows) with the tokens started at the class
    # token: at step 0 they then read the image roughly as the probe's class token does
    expres('one-way, token rows, token_init=cls', visibility='one_way',
           residual_scope='tokens', token_init='cls'),
]
ALL_METHODS = {m.name: m for m in METHODS + ABLATIONS}
ALL_ABLATIONS = {m.name for m in ABLATIONS}
FIRST_ABLATIONS = 3  # run right after the baselines (Study.order)
#: The ViT of the study (the issue's): 6 blocks, width 96, 3 heads, 32 px, patch 8.
VIT = dict(arch='vit_tiny_patch16_224', image_size=32,
           vit_cfg=dict(patch_size=8, embed_dim=96, depth=6, num_heads=3))
QUICK_VIT = dict(arch='vit_tiny_patch16_224', image_size=32,
                 vit_cfg=dict(patch_size=8, embed_dim=32, depth=2, num_heads=2))


def common_options(vit: dict, pretrained: Optional[str], epochs: int, vtab_root: str,
                   task: str) -> dict:
    """The ``--cfg-options`` every method gets: the ViT, the data, the schedule's length."""
    if epochs < 2:
        raise SystemExit(f'--epochs must be at least 2 (a warm-up epoch and the cosine '
                         f'decay), got {epochs}.')
    warmup = max(epochs // 10, 1)
    size = vit['image_size']
    opts = {
        'model.backbone.arch': vit['arch'], 'model.backbone.img_size': size,
        'model.backbone.vit_cfg': vit['vit_cfg'], 'model.backbone.pretrained': pretrained,
        'model.head.in_channels': vit['vit_cfg']['embed_dim'],
        'vtab_root': vtab_root, 'task': task,
        'train_cfg.max_epochs': epochs, 'train_cfg.val_interval': epochs,
        'param_scheduler.0.end': warmup, 'param_scheduler.1.begin': warmup,
        'param_scheduler.1.T_max': max(epochs - warmup, 1),
        'param_scheduler.1.end': epochs,
        'default_hooks.checkpoint.interval': epochs,
        'log_level': 'WARNING',
    }
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{loader}.num_workers'] = 0
        opts[f'{loader}.persistent_workers'] = False
        opts[f'{loader}.dataset.pipeline.1.scale'] = (size, size)
        # MMEngine's default packs the lists into one array after a gc.collect() that
        # costs more than the whole run once the process holds a few hundred of them
        opts[f'{loader}.dataset.serialize_data'] = False
    return opts


def readout_width(cfg) -> int:
    """The head's input: d, or K * d for the concatenated readout."""
    backbone = cfg.model.backbone
    width = backbone.vit_cfg['embed_dim']
    return width * backbone.num_tokens if backbone.get('readout') == 'concat' else width


def quicker_runners() -> None:
    """Skip the yapf formatting of each run's config text (about 1.5 s a run, more than
    a small run trains): the dumped config is the same Python, unformatted."""
    import mmengine.config.config as config_module
    config_module.FormatCode = lambda text, **kwargs: (text, None)


def group_of(name: str) -> str:
    """The parameter group of a prompt tensor in the training check: ``tokens`` or the
    residuals of one site."""
    return name.split('prompts.')[-1].replace('residuals.', 'residual ')


#: The heads' parameter prefixes: a classifier's and a segmentor's.
HEADS = ('head.', 'decode_head.')


def training_check_hook():
    """A hook that records, per group of trainable prompt tensors (the tokens, each
    site's residuals) and for the head: the mean gradient norm over the iterations, how
    far training moved the tensor (norm of end - start, and the start's norm), and the
    lr and weight decay its optimiser group applies."""
    from mmengine.hooks import Hook

    class TrainingCheck(Hook):
        def __init__(self):
            self.report, self.start, self.grads, self.handles = {}, {}, {}, []

        def _tensors(self, runner):
            model = runner.model
            for name, p in model.named_parameters():
                if p.requires_grad and ('prompts' in name or name.startswith(HEADS)):
                    yield (group_of(name) if 'prompts' in name
                           else 'head ' + name.split('head.', 1)[1]), p

        def before_train(self, runner):  # after init_weights: the start of training
            for group, p in self._tensors(runner):
                self.start[group] = p.detach().clone()
                self.grads[group] = []
                self.handles.append(p.register_hook(
                    lambda g, group=group: self.grads[group].append(g.norm().item())))

        def after_train(self, runner):
            for handle in self.handles:
                handle.remove()
            groups = runner.optim_wrapper.optimizer.param_groups
            for group, p in self._tensors(runner):
                opt = next(g for g in groups if any(q is p for q in g['params']))
                grads = self.grads[group]
                self.report[group] = dict(
                    grad_norm=sum(grads) / max(len(grads), 1),
                    moved=(p.detach() - self.start[group]).norm().item(),
                    start_norm=self.start[group].norm().item(),
                    lr=opt.get('initial_lr', opt['lr']), weight_decay=opt['weight_decay'])

    return TrainingCheck()


def run_once(config: str, options: dict, work_dir: str, check: bool = False,
             metric: str = 'accuracy/top1', score: str = 'top1') -> dict:
    """Build the Runner from ``config`` + ``options`` in this process, train, evaluate.

    Args:
        check: record the training check (:func:`training_check_hook`) as ``check``.
        metric: the evaluator's metric to record (``'mIoU'`` for segmentation) ...
        score: ... under this key of the result.

    Returns:
        ``score`` of the evaluation after the last epoch (the config's val split), the
        tuned parameter count, seconds, and ``error`` if the run failed (a diverging lr).
    """
    import torch
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.registry import RUNNERS, init_default_scope

    class Metrics(Hook):
        def __init__(self):
            self.metrics = {}

        def after_val_epoch(self, runner, metrics=None):
            self.metrics = dict(metrics or {})

    start = time.time()
    cfg = Config.fromfile(str(REPO / config))
    cfg.merge_from_dict(options)
    if 'head' in cfg.model:  # a classifier: the readout sets the head's input
        cfg.model.head.in_channels = readout_width(cfg)
    cfg.work_dir = work_dir
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    runner = RUNNERS.build(cfg)
    tuned = sum(p.numel() for p in runner.model.parameters() if p.requires_grad)
    catcher = Metrics()
    runner.register_hook(catcher, priority='LOWEST')
    checker = training_check_hook() if check else None
    if checker:
        runner.register_hook(checker, priority='LOWEST')
    result = dict(tuned=tuned)
    try:
        runner.train()
        result[score] = float(catcher.metrics[metric])
        if checker:
            result['check'] = checker.report
    except FloatingPointError as error:  # a diverging lr: recorded, never chosen
        result.update({score: float('nan')}, error=f'{type(error).__name__}: {error}'[:300])
    result['seconds'] = round(time.time() - start, 1)
    del runner
    torch.set_grad_enabled(True)
    return result


class Study:
    """The runs of every (pair, method), recorded in ``results.json`` as they finish.

    The classification study; :mod:`seg_transfer_study` changes the class attributes,
    :meth:`prepare` and :meth:`options` for segmentation.
    """

    metric, score, label = 'accuracy/top1', 'top1', 'top-1'
    expres_config = EXPRES_CFG  # the config whose final runs get the training check
    methods, ablations = ALL_METHODS, ALL_ABLATIONS
    first_ablations = [m.name for m in ABLATIONS[:FIRST_ABLATIONS]]
    pairs = transfer_pairs.PAIRS

    @staticmethod
    def defaults(quick: bool) -> dict:
        """The arguments a command line leaves unset: the full study, or ``--quick``'s."""
        return dict(pairs=['digits'] if quick else ['digits', 'fractals'],
                    methods=['linear probe', 'EXPRES (shipped config)'] if quick
                    else list(ALL_METHODS),
                    lrs=[2.5] if quick else [0.02, 0.1, 1.0, 10.0],
                    seeds=[42] if quick else [42, 44, 82],
                    epochs=2 if quick else 10, pretrain_epochs=1 if quick else 40,
                    work_dir='work_dirs/transfer_study')

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.vit = QUICK_VIT if args.quick else VIT
        self.path = osp.join(args.work_dir, 'results.json')
        self.results = {}
        if osp.isfile(self.path):
            with open(self.path, encoding='utf-8') as f:
                self.results = json.load(f)
        self.done = 0
        self.total = sum(len(self.methods_of(p)) for p in args.pairs) * (
            len(args.lrs) + len(args.seeds))
        self.start = time.time()

    def methods_of(self, pair: str) -> List[str]:
        """The rows run on ``pair``: the ablations only on ``--ablation-pairs``."""
        return [m for m in self.args.methods
                if m not in self.ablations or pair in self.args.ablation_pairs]

    def save(self) -> None:
        os.makedirs(self.args.work_dir, exist_ok=True)
        with open(self.path + '.tmp', 'w', encoding='utf-8') as f:
            json.dump(self.results, f, indent=1)
        os.replace(self.path + '.tmp', self.path)

    def prepare(self, pair: str) -> dict:
        """Pretrain (cached) and write the target task; the pair's record."""
        size = self.vit['image_size']
        source, target = transfer_pairs.PAIRS[pair](size)
        weights, acc = transfer_pairs.pretrained_vit(
            pair, source, self.vit['arch'], size, self.vit['vit_cfg'],
            self.args.pretrain_epochs, seed=self.args.vit_seed, log=self.log)
        key = transfer_pairs.settings_key(dict(pair=pair, size=size))
        root = osp.join(transfer_pairs.cache_root(), 'transfer_study', f'vtab_{key}')
        task = transfer_pairs.write_vtab_task(target, root)
        return dict(weights=weights, source_top1=acc, vtab_root=root, task=task,
                    target_classes=target.num_classes, target_images=len(target.labels))

    def setup(self) -> str:
        """The sentence above the table: what the numbers are and how they were chosen."""
        a = self.args
        return (f'Test top-1 %, mean ± std over seeds {", ".join(map(str, a.seeds))}; lr '
                f'(chosen on val200 with seed {a.seeds[0]}) from {a.lrs}; '
                f'{a.epochs} epochs; tuned parameters include the head.')

    def notes(self, infos: Dict[str, dict]) -> List[str]:
        """One line per pair under the table."""
        return [f'- {p}: the ViT (seed {self.args.vit_seed}) reached '
                f'{i["source_top1"]:.1f} % on held-out source '
                f'images; target: {i["target_classes"]} classes, '
                f'{i["target_images"]} images (400 / 100 / rest).' for p, i in infos.items()]

    def log(self, line: str) -> None:
        print(line, flush=True)

    def options(self, info: dict, method: Method, lr: float, seed: int,
                final: bool) -> dict:
        """The ``--cfg-options`` of one run: :func:`common_options`, the split, lr, seed."""
        opts = common_options(self.vit, info['weights'] if method.pretrained else None,
                              self.args.epochs, info['vtab_root'], info['task'])
        opts.update({
            'train_split': 'train800val200' if final else 'train800',
            'val_split': 'test' if final else 'val200',
            'optim_wrapper.optimizer.lr': lr, 'randomness.seed': seed})
        return opts

    def run(self, pair: str, info: dict, method: Method, lr: float, seed: int,
            final: bool) -> dict:
        key = f'{pair}|{method.name}|{"final" if final else "grid"}|lr{lr:g}|seed{seed}'
        if key not in self.results:
            opts = self.options(info, method, lr, seed, final)
            opts.update(method.options)
            work_dir = osp.join(self.args.work_dir, 'runs', key.replace('|', '/')
                                .replace(' ', '_').replace(',', '').replace("'", ''))
            check = (method.config == self.expres_config and final
                     and seed == self.args.seeds[0])
            self.results[key] = dict(run_once(method.config, opts, work_dir, check,
                                              self.metric, self.score), lr=lr, seed=seed)
            self.save()
        self.done += 1
        r = self.results[key]
        elapsed = time.time() - self.start
        self.log(f'[{self.done}/{self.total}] {pair:9s} {method.name:45s} '
                 f'{"test" if final else "val "} lr {lr:<5g} seed {seed:<4d} '
                 f'{self.score} {r[self.score]:5.1f}  ({r["seconds"]:.0f} s, '
                 f'{elapsed / 60:.1f} min)' + (f'  {r["error"][:60]}' if 'error' in r else ''))
        return r

    def method_row(self, pair: str, info: dict, method: Method) -> dict:
        grid = [self.run(pair, info, method, lr, self.args.seeds[0], final=False)
                for lr in self.args.lrs]
        score = self.score
        finite = [g for g in grid if g[score] == g[score]]
        if not finite:
            return dict(best_lr=None, test=[], tuned=grid[0]['tuned'])
        best = max(finite, key=lambda g: (g[score], -g['lr']))
        tests = [self.run(pair, info, method, best['lr'], s, final=True)
                 for s in self.args.seeds]
        return dict(best_lr=best['lr'], val=best[score], tuned=best['tuned'],
                    test=[t[score] for t in tests])

    def order(self) -> List[tuple]:
        """(pair, method) in the order they run: on each pair the baselines, EXPRES and
        the first ablations (the residual-scope and visibility readings), then the other
        ablations, so that a study stopped early has the main comparison."""
        first = set(self.first_ablations)
        main = [(p, m) for p in self.args.pairs for m in self.methods_of(p)
                if m in first or m not in self.ablations]
        return main + [(p, m) for p in self.args.pairs for m in self.methods_of(p)
                       if (p, m) not in main]

    def table(self) -> str:
        pairs, infos = self.args.pairs, {}
        rows: Dict[str, Dict[str, dict]] = {name: {} for name in self.args.methods}
        for pair in pairs:
            infos[pair] = self.prepare(pair)
            self.results.setdefault('_pairs', {})[pair] = infos[pair]
        for pair, name in self.order():
            rows[name][pair] = self.method_row(pair, infos[pair], self.methods[name])
        rows = {name: row for name, row in rows.items() if row}
        self.results['_meta'] = code_version()
        self.save()
        return (format_table(rows, pairs, self.setup(), self.notes(infos), self.label)
                + '\n'
                + check_table(self.results, self.args) + '\n' + self.results['_meta']['line'])


def code_version() -> dict:
    """The commit the runs used, and whether the model code or configs had local edits."""
    import subprocess

    def git(*cmd):
        out = subprocess.run(['git', *cmd], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ''

    commit = git('rev-parse', '--short', 'HEAD') or 'unknown'
    edited = git('status', '--short', '--', 'mmseg_expres/models', 'configs').splitlines()
    line = (f'Code: commit {commit}'
            + (f', with local edits to {len(edited)} model/config file(s)' if edited else '')
            + '.')
    return dict(commit=commit, edited=edited, line=line)


def check_table(results: dict, args: argparse.Namespace) -> str:
    """The training check of the EXPRES final runs with the first seed on the first pair:
    per prompt group, gradient norm, how far it moved, its lr and weight decay."""
    lines = []
    for key, r in results.items():
        if not key.startswith(args.pairs[0] + '|') or 'check' not in r:
            continue
        lines += ['', f'Training check, {key.split("|")[1]} (final run, lr {r["lr"]:g}, '
                  f'seed {r["seed"]}):', '',
                  '| tensor | mean grad norm | ‖end − start‖ | ‖start‖ | lr | weight decay |',
                  '|---|---|---|---|---|---|']
        for group, c in r['check'].items():
            lines.append(f'| {group} | {c["grad_norm"]:.2e} | {c["moved"]:.3g} | '
                         f'{c["start_norm"]:.3g} | {c["lr"]:.3g} | {c["weight_decay"]:g} |')
    return '\n'.join(lines) + '\n'


def mean_std(values: List[float]) -> str:
    values = [v for v in values if v == v]
    if not values:
        return 'diverged'
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f'{statistics.mean(values):.1f} ± {std:.1f}'


def format_table(rows: Dict[str, Dict[str, dict]], pairs: List[str], setup: str,
                 notes: List[str], label: str = 'top-1') -> str:
    head = ['method'] + [f'{p} test {label} (lr)' for p in pairs] + ['tuned parameters']
    if len(pairs) > 1:
        head.insert(-1, 'mean')
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, by_pair in rows.items():
        cells, means = [name], []
        for pair in pairs:
            r = by_pair.get(pair)
            if r is None:  # an ablation not run on this pair
                cells.append('')
                continue
            cells.append(f'{mean_std(r["test"])} ({r["best_lr"]:g})' if r['test']
                         else 'diverged')
            finite = [v for v in r['test'] if v == v]
            means.append(statistics.mean(finite) if finite else float('nan'))
        if len(pairs) > 1:
            cells.append(f'{statistics.mean(means):.1f}' if len(means) == len(pairs) else '')
        cells.append(', '.join(sorted({f'{r["tuned"]:,}' for r in by_pair.values()})))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join([setup, '', *lines, '', *notes]) + '\n'


def study_class(task: str) -> type:
    """The study of ``task``: :class:`Study` (classification) or the segmentation one."""
    if task == 'seg':
        import seg_transfer_study
        return seg_transfer_study.SegStudy
    return Study


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--task', choices=['cls', 'seg'], default='cls',
                        help='cls: the VTAB-1k configs (default); seg: the custom-data '
                        'linear-head segmentation configs (seg_transfer_study.py)')
    parser.add_argument('--quick', action='store_true',
                        help='a tiny end-to-end run (CI): its numbers mean nothing')
    parser.add_argument('--pairs', nargs='+', metavar='PAIR',
                        help='cls: digits, digits_odd, fractals; seg: seg-digits')
    parser.add_argument('--methods', nargs='+', metavar='NAME',
                        help=f'rows to run (default: all): {", ".join(ALL_METHODS)} '
                        '(cls); see seg_transfer_study.py for seg')
    parser.add_argument('--lrs', nargs='+', type=float,
                        help="cls: VPT's grid units, scaled by batch/256 (default 0.02 0.1 "
                        "1 10); seg: AdamW's head lr (default 1e-4 1e-3 1e-2)")
    parser.add_argument('--seeds', nargs='+', type=int)
    parser.add_argument('--ablation-pairs', nargs='*', default=['digits', 'fractals'],
                        help='pairs the EXPRES ablations run on (cls; default: both)')
    parser.add_argument('--epochs', type=int, help='cls: training epochs')
    parser.add_argument('--iters', type=int, help='seg: training iterations')
    parser.add_argument('--pretrain-epochs', type=int)
    parser.add_argument('--vit-seed', type=int, default=0,
                        help='seed of the ViT\'s pretraining (another seed: another '
                        'pretrained ViT, to see whether a ranking holds across ViTs)')
    parser.add_argument('--work-dir')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    parser.add_argument('--out', help='write the table (Markdown) here too')
    args = parser.parse_args(argv)
    study = study_class(args.task)
    for key, value in study.defaults(args.quick).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for what, known in (('method', study.methods), ('pair', study.pairs)):
        unknown = [m for m in getattr(args, what + 's') if m not in known]
        if unknown:
            parser.error(f'unknown {what}(s) {unknown} for --task {args.task}; choose '
                         f'from: {", ".join(known)}')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    args.work_dir = osp.abspath(args.work_dir)
    args.out = osp.abspath(args.out) if args.out else None
    os.chdir(REPO)  # the configs' relative paths
    import torch
    # one thread: on a shared machine OpenMP threads that wait for each other's cores
    # made a run 4x slower than one thread
    torch.set_num_threads(args.threads)
    quicker_runners()
    table = study_class(args.task)(args).table()
    print('\n' + table)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(table)


if __name__ == '__main__':
    main()
