"""The benchmark's table, NOAH's list names, drawing K-shot lists and the list tool."""
import pytest

from mmseg_expres.datasets.fgvc_fewshot.benchmark import (FEWSHOT_DATASETS, describe_shot_lists,
                                           find_shot_lists, get_dataset, list_file)
from mmseg_expres.datasets.fgvc_fewshot.sampling import TooFewImagesError, draw_shots
from mmseg_expres.datasets.lists.files import ListEntry, read_list_file, write_list_file

from .fewshot_data import load_tool


def _entries(counts):
    """A training list with ``counts[label]`` images of each label, e.g. ``c1_003.jpg``."""
    rows = [(f'c{label}_{i:03d}.jpg', label) for label, n in enumerate(counts)
            for i in range(n)]
    return [ListEntry(i + 1, path, label) for i, (path, label) in enumerate(rows)]


def test_table_has_noahs_folders_classes_and_split_sizes():
    table = {d.name: (d.num_classes, d.image_dir, d.val_size, d.test_size)
             for d in FEWSHOT_DATASETS.values()}
    assert table == {'food101': (101, 'images', 20200, 30300),
                     'standford-cars': (196, '', 1635, 8041),
                     'oxford-flowers102': (102, 'images', 1633, 2463),
                     'fgvc-aircraft': (100, 'images', 3333, 3333),
                     'oxford-pets': (37, 'images', 736, 3669)}


def test_list_files_have_noahs_names(tmp_path):
    assert list_file('r', 'food101', 'shots', 4, 2) == \
        'r/food101/annotations/train_meta.list.num_shot_4.seed_2'
    assert list_file('r', 'food101', 'test') == 'r/food101/annotations/test_meta.list'
    with pytest.raises(ValueError, match="Unknown few-shot split 'train800'"):
        list_file('r', 'food101', 'train800')
    folder = tmp_path / 'food101' / 'annotations'
    folder.mkdir(parents=True)
    for name in ('train_meta.list.num_shot_1.seed_0', 'train_meta.list.num_shot_1.seed_2',
                 'train_meta.list.num_shot_16.seed_0', 'train_meta.list', 'notes.txt'):
        (folder / name).write_text('')
    found = find_shot_lists(str(tmp_path), 'food101')
    assert sorted(found) == [(1, 0), (1, 2), (16, 0)]
    assert describe_shot_lists(found) == 'shots 1 (seeds 0, 2); 16 (seeds 0)'


def test_unknown_names_are_refused_with_the_fix():
    with pytest.raises(KeyError, match="Unknown few-shot data set 'cub200'.*oxford-pets.*"
                       'custom_num_classes'):
        get_dataset('cub200')
    # NOAH's scripts spell it right; its list folders (and this table) do not.
    with pytest.raises(KeyError, match="folder name 'standford-cars'"):
        get_dataset('stanford_cars')
    with pytest.raises(ValueError, match='37 classes; custom_num_classes is only'):
        get_dataset('oxford-pets', custom_num_classes=5)
    own = get_dataset('cub200', custom_num_classes=200)
    assert (own.num_classes, own.image_dir, own.test_size) == (200, 'images', None)


def test_draw_is_stratified_seeded_deterministic_and_nested():
    entries = _entries([6, 5, 7])
    lists = {(k, s): draw_shots(entries, k, s) for k in (1, 2, 4) for s in (0, 1)}
    for (shot, _), rows in lists.items():
        assert [label for _, label in rows] == [0] * shot + [1] * shot + [2] * shot
        assert len({path for path, _ in rows}) == 3 * shot
        assert all(path.startswith(f'c{label}_') for path, label in rows)
    assert lists[(2, 0)] != lists[(2, 1)]  # the seed picks other images
    assert draw_shots(entries[::-1], 2, 0) == lists[(2, 0)]  # order of the list: no effect
    for seed in (0, 1):
        assert set(lists[(1, seed)]) <= set(lists[(2, seed)]) <= set(lists[(4, seed)])
    # Pinned: the draw must not change across machines and Python versions (sha256 ranks).
    assert lists[(2, 0)] == [('c0_000.jpg', 0), ('c0_002.jpg', 0), ('c1_003.jpg', 1),
                             ('c1_002.jpg', 1), ('c2_004.jpg', 2), ('c2_003.jpg', 2)]


def test_draw_refuses_classes_with_too_few_images_and_names_them():
    entries = _entries([4, 1, 4])
    entries.append(ListEntry(99, 'c1_000.jpg', 1))  # listed twice: still one image
    with pytest.raises(TooFewImagesError, match=r'1 class\(es\) have fewer \(class 1: 1\)'):
        draw_shots(entries, 2, 0)
    with pytest.raises(TooFewImagesError, match='class 1: 1, class 3: 0'):
        draw_shots(entries, 2, 0, num_classes=4)  # class 3 has no image at all
    with pytest.raises(ValueError, match=r'labels \[2\] lie outside \[0, 2\)'):
        draw_shots(entries, 1, 0, num_classes=2)
    with pytest.raises(ValueError, match='c0_000.jpg is listed with labels 0 and 2'):
        draw_shots(entries + [ListEntry(100, 'c0_000.jpg', 2)], 1, 0)


def test_list_tool_writes_noahs_files_that_read_back(tmp_path, capsys):
    train = tmp_path / 'annotations' / 'train_meta.list'
    entries = _entries([3, 4, 2, 5])
    write_list_file(str(train), [(e.path, e.label) for e in entries])
    tool = load_tool('make_fewshot_lists')
    assert tool.main([str(train), '--shots', '1', '2', '--seeds', '0', '1',
                      '--num-classes', '4']) == 0
    for shot in (1, 2):
        for seed in (0, 1):
            path = train.parent / f'train_meta.list.num_shot_{shot}.seed_{seed}'
            rows, problems = read_list_file(str(path))
            assert not problems
            assert [(e.path, e.label) for e in rows] == draw_shots(entries, shot, seed)
    assert path.read_text().splitlines()[0].endswith('.jpg 0')  # "relative/path label"

    # Existing lists (NOAH's, say) are kept unless --overwrite.
    before = path.read_text()
    assert tool.main([str(train), '--shots', '2', '--seeds', '1']) == 1
    assert 'exist already' in capsys.readouterr().out and path.read_text() == before


def test_list_tool_refuses_a_short_class_and_writes_nothing(tmp_path, capsys):
    train = tmp_path / 'train_meta.list'
    write_list_file(str(train), [(e.path, e.label) for e in _entries([3, 2, 3])])
    tool = load_tool('make_fewshot_lists')
    capsys.readouterr()
    assert tool.main([str(train), '--shots', '1', '4', '--seeds', '0',
                      '--out-dir', str(tmp_path / 'out')]) == 1
    assert 'class 0: 3, class 1: 2, class 2: 3' in capsys.readouterr().out
    assert not (tmp_path / 'out').exists()  # not even the 1-shot list
    assert tool.main([str(train), '--dataset', 'oxford-pets', '--shots', '1']) == 1
    assert 'class 3: 0' in capsys.readouterr().out  # Pets has 37 classes, the list 3
