"""tools/fewshot/aggregate.py: means and spreads equal hand computations."""
import json

import pytest

from mmseg_expres.datasets.fgvc_fewshot.benchmark import FEWSHOT_DATASETS

from .fewshot_data import load_tool

aggregate = load_tool('aggregate')


def _results(config, scores):
    """``scores``: {data set: {shot: [top-1 of seed 0, seed 1, ...]}}."""
    return dict(settings=dict(config=f'/x/configs/{config}'), datasets={
        d: {f'shot{k}_seed{s}': dict(shot=k, seed=s, test_top1=v)
            for k, values in shots.items() for s, v in enumerate(values)}
        for d, shots in scores.items()})


def test_cells_and_means_equal_hand_computations():
    summary = aggregate.summarise(_results('expres_x.py', {
        'food101': {1: [30.0, 33.0, 36.0], 2: [50.0, 50.0, 53.0]},
        'oxford-pets': {1: [70.0, 71.0, 75.0]}}))
    food = summary['cells']['food101'][1]
    assert food['mean'] == 33.0 and food['seeds'] == 3
    assert food['std'] == pytest.approx((18 / 3) ** 0.5)  # deviations -3, 0, 3
    # 1-shot over the data sets: per seed (30+70)/2, (33+71)/2, (36+75)/2 = 50, 52, 55.5
    mean = summary['means'][1]
    assert mean['mean'] == pytest.approx(52.5) and mean['datasets'] == 2
    assert mean['std'] == pytest.approx(((2.5 ** 2 + 0.5 ** 2 + 3 ** 2) / 3) ** 0.5)
    assert summary['means'][2] == dict(mean=51.0, std=pytest.approx(2 ** 0.5), seeds=3,
                                       datasets=1)


def test_data_sets_with_other_seeds_get_no_spread_over_the_mean():
    summary = aggregate.summarise(_results('expres_x.py', {
        'food101': {1: [30.0, 34.0]}, 'oxford-pets': {1: [70.0, 71.0, 75.0]}}))
    assert summary['means'][1]['mean'] == pytest.approx((32.0 + 72.0) / 2)
    assert summary['means'][1]['std'] is None


def test_table_rows_are_methods_columns_shots_with_published_anchors(tmp_path, capsys):
    ours = {d: {k: [40.0 + k, 42.0 + k] for k in (1, 2, 4, 8, 16)} for d in FEWSHOT_DATASETS}
    paths = []
    for method, shift in (('expres', 0.0), ('vpt-deep', -1.0)):
        scores = {d: {k: [v + shift for v in vs] for k, vs in s.items()}
                  for d, s in ours.items()}
        scores['oxford-pets'][16] = scores['oxford-pets'][16][:1]  # one seed only
        paths.append(tmp_path / f'{method}.json')
        paths[-1].write_text(json.dumps(_results(f'{method}_vit-b16_x.py', scores)))
    aggregate.main([str(p) for p in paths])
    out = capsys.readouterr().out.splitlines()
    pets = out.index(next(line for line in out if line.startswith('Oxford-IIIT Pets')))
    assert out[pets].split()[-5:] == ['1-shot', '2-shot', '4-shot', '8-shot', '16-shot']
    assert out[pets + 1].split() == ['expres', '42.00', '±1.00', '43.00', '±1.00', '45.00',
                                     '±1.00', '49.00', '±1.00', '56.00', '±0.00*']
    assert out[pets + 2].split()[:3] == ['vpt-deep', '41.00', '±1.00']
    assert out[pets + 3].split() == ['NOAH', '(published)', '69.7', '78.1', '84.9', '88.0',
                                     '89.0']
    mean = out.index(next(line for line in out if line.startswith('mean over data sets')))
    # NOAH's 1-shot mean over the five: (31.8 + 7.3 + 88.1 + 8.2 + 69.7) / 5 = 41.02
    assert out[mean + 3].split()[:3] == ['NOAH', '(published)', '41.02']
    assert out[mean + 1].split()[:3] == ['expres', '42.00', '±1.00']


def test_rows_need_distinct_names(tmp_path):
    path = tmp_path / 'r.json'
    path.write_text(json.dumps(_results('expres_x.py', {'food101': {1: [1.0]}})))
    with pytest.raises(SystemExit):
        aggregate.main([str(path), str(path)])
    aggregate.main([str(path), str(path), '--names', 'a', 'b'])
