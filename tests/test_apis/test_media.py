"""Inputs of the inference command: files, folders, globs and videos, and what fails."""
import cv2
import numpy as np
import pytest
from PIL import Image

from mmseg_expres.apis.media import VideoFrames, VideoWriter, expand_inputs, read_image


def _image(path, colour=(10, 20, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 5, 3), colour, np.uint8)).save(path)
    return str(path)


def test_files_folders_and_globs_expand_once_with_distinct_names(tmp_path):
    a = _image(tmp_path / 'a.png')
    _image(tmp_path / 'dir' / 'a.png')
    _image(tmp_path / 'dir' / 'deep' / 'c.jpg')
    (tmp_path / 'dir' / 'notes.txt').write_text('not an image')
    (tmp_path / 'dir' / 'clip.mp4').write_bytes(b'')
    _image(tmp_path / 'other' / 'a.png')
    sources, problems = expand_inputs([a, str(tmp_path / 'dir'), a, str(tmp_path / 'o*/*.png'),
                                       str(tmp_path / 'nothing_*.png'), str(tmp_path / 'x.jpg')])
    assert [(s.name, s.is_video) for s in sources] == [
        ('a', False), ('dir/a', False), ('dir/clip', True), ('dir/deep/c', False),
        ('a_2', False)]
    assert [p[0] for p in problems] == [str(tmp_path / 'nothing_*.png'), str(tmp_path / 'x.jpg')]
    assert 'no file matches' in problems[0][1] and problems[1][1] == 'no such file or folder'


def test_read_image_is_bgr_and_names_a_broken_file(tmp_path):
    assert read_image(_image(tmp_path / 'a.png'))[0, 0].tolist() == [30, 20, 10]
    (tmp_path / 'b.jpg').write_bytes(b'\xff\xd8 nope')
    with pytest.raises(ValueError, match=r'Cannot decode .*b\.jpg'):
        read_image(str(tmp_path / 'b.jpg'))


def test_video_round_trip_keeps_frames_rate_and_bgr(tmp_path):
    path = str(tmp_path / 'v.avi')
    writer = VideoWriter(path, 12.0, (16, 24))
    for i in range(5):
        writer.write(np.full((16, 24, 3), (200, 30, 10 * i), np.uint8))
    with pytest.raises(ValueError, match='frame'):
        writer.write(np.zeros((8, 8, 3), np.uint8))
    writer.close()
    frames = VideoFrames(path)
    assert (len(frames), frames.fps, frames.size) == (5, 12.0, (16, 24))
    read = list(frames)
    assert len(read) == 5 and np.abs(read[0].reshape(-1, 3).mean(0) - [200, 30, 0]).max() < 8
    assert len(list(frames)) == 5  # read again from the start


def test_unreadable_video_is_refused_with_its_name(tmp_path):
    (tmp_path / 'bad.mp4').write_bytes(b'not a video')
    with pytest.raises(ValueError, match=r'bad\.mp4'):
        VideoFrames(str(tmp_path / 'bad.mp4'))
