"""Class index from masks, and the seeded episodes drawn from it."""
import os

import numpy as np
import pytest
from PIL import Image

from mmseg_expres.datasets.fewshot_seg.episodes import (cached_class_index,
                                                        check_enough_images, count_classes,
                                                        images_per_class, read_names,
                                                        sample_episodes)


def _mask(folder, name, values):
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(np.array(values, np.uint8)).save(os.path.join(folder, name + '.png'))


def test_count_classes_leaves_out_background_and_ignore(tmp_path):
    _mask(tmp_path, 'a', [[0, 3, 3], [255, 3, 7]])
    assert count_classes(str(tmp_path), ['a']) == {'a': {3: 3, 7: 1}}


def test_a_listed_image_without_mask_is_named(tmp_path):
    _mask(tmp_path, 'a', [[1]])
    with pytest.raises(FileNotFoundError, match=r"1 of 2 listed images have no mask .*: b\.png"):
        count_classes(str(tmp_path), ['a', 'b'])


def test_missing_list_file_names_the_converter(tmp_path):
    with pytest.raises(FileNotFoundError, match='voc_aug.py'):
        read_names(str(tmp_path / 'val.txt'))


def test_cache_is_used_for_unchanged_masks_and_redone_for_another_list(tmp_path, monkeypatch):
    from mmseg_expres.datasets.fewshot_seg import episodes
    _mask(tmp_path, 'a', [[1, 1]])
    _mask(tmp_path, 'b', [[2, 0]])
    cache = str(tmp_path / 'index.json')
    first = cached_class_index(str(tmp_path), ['a'], '.png', cache)
    counted = []
    monkeypatch.setattr(episodes, 'count_classes',
                        lambda *args: counted.append(args) or count_classes(*args))
    assert cached_class_index(str(tmp_path), ['a'], '.png', cache) == first == {'a': {1: 2}}
    assert not counted  # the cache answered
    assert cached_class_index(str(tmp_path), ['a', 'b'], '.png', cache) == {
        'a': {1: 2}, 'b': {2: 1}}
    assert len(counted) == 1


@pytest.mark.parametrize('change', ['size', 'mtime'])
def test_cache_is_rebuilt_when_a_mask_changes_in_place(tmp_path, change):
    """A mask rewritten under the same name (new pixels) must not be served stale."""
    _mask(tmp_path, 'a', [[1, 1]])
    cache = str(tmp_path / 'index.json')
    stat = os.stat(tmp_path / 'a.png')
    assert cached_class_index(str(tmp_path), ['a'], '.png', cache) == {'a': {1: 2}}
    if change == 'size':
        _mask(tmp_path, 'a', [[0, 0, 0, 3]])
    else:  # same size, only the modification time tells: another PNG of equal length
        _mask(tmp_path, 'a', [[3, 3]])
        assert os.stat(tmp_path / 'a.png').st_size == stat.st_size
        os.utime(tmp_path / 'a.png', ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    expected = {'a': {3: 1}} if change == 'size' else {'a': {3: 2}}
    assert cached_class_index(str(tmp_path), ['a'], '.png', cache) == expected


def test_images_per_class_applies_min_pixels():
    index = {'a': {1: 5, 2: 1}, 'b': {1: 2}, 'c': {2: 9}}
    assert images_per_class(index, [1, 2], min_pixels=2) == {1: ['a', 'b'], 2: ['c']}


PER_CLASS = {1: [f'i{n}' for n in range(8)], 2: [f'j{n}' for n in range(6)]}


def test_episodes_are_fixed_by_the_seed():
    one = sample_episodes(PER_CLASS, 2, 30, seed=3)
    assert one == sample_episodes(PER_CLASS, 2, 30, seed=3)
    assert one != sample_episodes(PER_CLASS, 2, 30, seed=4)


def test_episode_supports_are_distinct_images_of_the_class_without_the_query():
    episodes = sample_episodes(PER_CLASS, 5, 100, seed=0)
    assert len(episodes) == 100
    for e in episodes:
        assert len(set(e.supports)) == 5 and e.query not in e.supports
        assert {e.query, *e.supports} <= set(PER_CLASS[e.cls])
    # queries run through all 14 (class, image) pairs before any repeats
    assert len({(e.cls, e.query) for e in episodes[:14]}) == 14


def test_one_and_five_shot_episodes_share_their_queries():
    one, five = (sample_episodes(PER_CLASS, k, 20, seed=1) for k in (1, 5))
    assert [(e.cls, e.query) for e in one] == [(e.cls, e.query) for e in five]


def test_class_with_too_few_images_is_named():
    with pytest.raises(ValueError, match=r'fewer than 7 .*2 \(bicycle\): 6'):
        check_enough_images(PER_CLASS, 7, 'fold 0', ('aeroplane', 'bicycle'))
