"""tools/fewshot/check_fewshot.py finds each planted fault in a generated folder."""
import shutil
from pathlib import Path

import pytest

from .fewshot_data import load_tool, make_folder

SHOTS, SEEDS = (1, 2), (0, 1)


@pytest.fixture(scope='module')
def clean(tmp_path_factory):
    """'toy' (4 classes of your own): train 3, val 1, test 2 per class, 1/2-shot lists."""
    root = tmp_path_factory.mktemp('clean')
    make_folder(str(root), 'toy', dict(train=3, val=1, test=2), SHOTS, SEEDS,
                custom_num_classes=4)
    return root


def _check(root: Path, **kwargs):
    return load_tool('check_fewshot').check_dataset(
        str(root), 'toy', SHOTS, SEEDS, custom_num_classes=4, **kwargs)


def _lines(path: Path):
    return path.read_text().splitlines()


def _write(path: Path, lines) -> None:
    path.write_text('\n'.join(lines) + '\n')


ANN = Path('toy') / 'annotations'
SHOT_2_1 = ANN / 'train_meta.list.num_shot_2.seed_1'


def _drop_a_list(root):
    (root / SHOT_2_1).unlink()


def _drop_test(root):
    (root / ANN / 'test_meta.list').unlink()


def _one_image_short(root):
    _write(root / SHOT_2_1, _lines(root / SHOT_2_1)[1:])


def _missing_image(root):
    (root / 'toy' / 'images' / _lines(root / SHOT_2_1)[0].split()[0]).unlink()


def _test_image_in_training(root):
    test = _lines(root / ANN / 'test_meta.list')[0]
    _write(root / SHOT_2_1, _lines(root / SHOT_2_1) + [test])


def _two_labels(root):
    path = _lines(root / SHOT_2_1)[0].split()[0]
    _write(root / SHOT_2_1, _lines(root / SHOT_2_1) + [f'{path} 3'])


def _label_out_of_range(root):
    _write(root / ANN / 'val_meta.list', _lines(root / ANN / 'val_meta.list') + [
        _lines(root / ANN / 'train_meta.list')[-1].split()[0] + ' 4'])


def _copied_test_image(root):
    images = root / 'toy' / 'images'
    shutil.copy(images / _lines(root / ANN / 'test_meta.list')[0].split()[0],
                images / _lines(root / SHOT_2_1)[0].split()[0])


def _outside_training_list(root):
    _write(root / ANN / 'train_meta.list', _lines(root / ANN / 'train_meta.list')[1:])


@pytest.mark.parametrize('plant, message', [
    (_drop_a_list, 'train_meta.list.num_shot_2.seed_1 is missing (' ),
    (_drop_test, 'test_meta.list is missing'),
    (_one_image_short, 'a 2-shot list holds 2 distinct images of each of the 4 classes; '
     'these differ: class 0: 1'),
    (_missing_image, 'missing or unreadable images: train/'),
    (_test_image_in_training, 'train_meta.list.num_shot_2.seed_1 and test list the same '
     'paths: test/000_000.png'),
    (_two_labels, 'is listed with labels'),
    (_label_out_of_range, 'labels outside [0, 4) for toy: line 5: 4'),
    (_copied_test_image, 'training images identical to test images'),
    (_outside_training_list, 'names images that train_meta.list does not: train/000_000.png'),
])
def test_checker_finds_planted_fault(clean, tmp_path, plant, message):
    shutil.copytree(clean, tmp_path, dirs_exist_ok=True)
    assert _check(tmp_path) == ([], [])
    plant(tmp_path)
    problems, _ = _check(tmp_path)
    assert any(message in p for p in problems), problems


def test_a_missing_list_names_the_lists_that_are_there(clean, tmp_path):
    shutil.copytree(clean, tmp_path, dirs_exist_ok=True)
    _drop_a_list(tmp_path)
    problems, _ = _check(tmp_path)
    assert any('has shots 1 (seeds 0, 1); 2 (seeds 0)' in p for p in problems), problems


def test_repeated_lines_as_in_noahs_pets_lists_are_a_note(clean, tmp_path):
    """NOAH's Oxford-IIIT Pets 1-shot lists name each image twice; they must pass."""
    shutil.copytree(clean, tmp_path, dirs_exist_ok=True)
    one_shot = tmp_path / ANN / 'train_meta.list.num_shot_1.seed_0'
    _write(one_shot, [line for line in _lines(one_shot) for _ in range(2)])
    problems, notes = _check(tmp_path)
    assert problems == []
    assert notes == ["train_meta.list.num_shot_1.seed_0 names 4 image(s) more than once (NOAH's "
                     'Oxford-IIIT Pets 1-shot lists do, which makes them longer than one '
                     'batch of 64): counted once here, trained on as often as listed']


def test_benchmark_split_sizes_are_checked(tmp_path):
    make_folder(str(tmp_path), 'oxford-pets', dict(train=1, test=1), (1, ), (0, ))
    problems, notes = load_tool('check_fewshot').check_dataset(
        str(tmp_path), 'oxford-pets', (1, ), (0, ), decode=False)
    assert problems == [f'{tmp_path}/oxford-pets/annotations/test_meta.list has 37 entries, '
                        "NOAH's list has 3669"]
    assert notes == [f'{tmp_path}/oxford-pets/annotations/val_meta.list is missing (only '
                     'needed with val_split=val)']


def test_command_reports_every_data_set_and_exits_non_zero(clean, tmp_path, capsys):
    check = load_tool('check_fewshot')
    args = ['--datasets', 'toy', '--custom-num-classes', '4', '--shots', '1', '2',
            '--seeds', '0', '1']
    assert check.main([str(clean), *args]) == 0
    assert check.main([str(clean), '--datasets', 'toy', 'toy2', *args[2:]]) == 1
    out = capsys.readouterr().out
    assert 'toy: ok' in out and 'toy2 is missing' in out
    assert '1 problem(s) in 2 data set(s).' in out
    with pytest.raises(SystemExit):
        check.main([str(clean), '--datasets', 'toy'])  # no class count for a data set of ours
    assert "Unknown few-shot data set 'toy'" in capsys.readouterr().err
