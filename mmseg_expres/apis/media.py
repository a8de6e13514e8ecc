"""What users hand to the inference command: images, folders, glob patterns, videos.

Images are decoded by mmcv (BGR, as mmseg's ``LoadImageFromFile`` reads them for
training), video frames by OpenCV through mmcv's ``VideoReader`` (BGR as well), so a
model sees the same channel order in every case.
"""
import glob
import os
import os.path as osp
from dataclasses import dataclass
from typing import Iterator, List, Sequence, Tuple

import numpy as np

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mov', '.mkv')


@dataclass
class Source:
    """One file to segment.

    Attributes:
        path: the file.
        is_video: read frame by frame.
        name: the output name, relative to the output folder, without suffix (a
            folder's files keep their sub-folders, prefixed by the folder's name).
    """

    path: str
    is_video: bool
    name: str


def _is_video(path: str) -> bool:
    return path.lower().endswith(VIDEO_SUFFIXES)


def _folder_files(folder: str) -> List[str]:
    found = []
    for root, _, files in os.walk(folder):
        found += [osp.join(root, f) for f in files
                  if f.lower().endswith(IMAGE_SUFFIXES + VIDEO_SUFFIXES)]
    return sorted(found)


def expand_inputs(inputs: Sequence[str]) -> Tuple[List[Source], List[Tuple[str, str]]]:
    """The files behind the command line's inputs, each once, in the order given.

    A file is taken whatever its suffix (a video by its suffix); a folder gives its image
    and video files, sub-folders included; anything else is a glob pattern.

    Returns:
        the sources, and (input, problem) for each input that names nothing.
    """
    sources: List[Source] = []
    problems: List[Tuple[str, str]] = []
    seen, names = set(), set()

    def add(path: str, name: str) -> None:
        if osp.abspath(path) in seen:
            return
        seen.add(osp.abspath(path))
        base, n = name, 1
        while name in names:  # two inputs with one name: keep both outputs
            n += 1
            name = f'{base}_{n}'
        names.add(name)
        sources.append(Source(path, _is_video(path), name))

    for item in inputs:
        if osp.isfile(item):
            add(item, osp.splitext(osp.basename(item))[0])
        elif osp.isdir(item):
            files = _folder_files(item)
            if not files:
                problems.append((item, 'a folder without image or video files'))
            top = osp.basename(osp.normpath(item))
            for path in files:
                add(path, osp.join(top, osp.splitext(osp.relpath(path, item))[0]))
        else:
            matches = sorted(p for p in glob.glob(item, recursive=True) if osp.isfile(p))
            if not matches:
                problems.append((item, 'no such file or folder, and no file matches it'
                                 if glob.has_magic(item) else 'no such file or folder'))
            for path in matches:
                add(path, osp.splitext(osp.basename(path))[0])
    return sources, problems


def read_image(path: str) -> np.ndarray:
    """A BGR uint8 (H, W, 3) image decoded by mmcv.

    Raises:
        ValueError: naming the file and what is wrong with it.
    """
    import mmcv
    try:
        image = mmcv.imread(path)
    except Exception as error:  # mmcv raises what cv2/PIL raise on bad bytes
        raise ValueError(f'Cannot read {path} as an image: {error}') from error
    if image is None:
        raise ValueError(f'Cannot decode {path} as an image (not an image, or truncated).')
    return image


class VideoFrames:
    """The frames of a video (BGR), its frame rate and size; refuses what OpenCV cannot open."""

    def __init__(self, path: str) -> None:
        import mmcv
        try:
            self.reader = mmcv.VideoReader(path)
        except (AssertionError, OSError) as error:  # mmcv asserts that OpenCV opened it
            raise ValueError(f'Cannot open {path} as a video: {error}') from error
        if self.reader.frame_cnt <= 0 or self.reader.fps <= 0:
            raise ValueError(f'Cannot read {path} as a video: OpenCV finds no frames.')
        self.fps = float(self.reader.fps)
        self.size = (self.reader.height, self.reader.width)

    def __len__(self) -> int:
        return self.reader.frame_cnt

    def __iter__(self) -> Iterator[np.ndarray]:
        self.reader.vcap.set(1, 0)  # CAP_PROP_POS_FRAMES: from the start
        while True:
            ok, frame = self.reader.vcap.read()
            if not ok:
                return
            yield frame


class VideoWriter:
    """Frames (BGR) to a video file at a given frame rate, MPEG-4 in ``.mp4``, MJPEG in
    ``.avi``."""

    def __init__(self, path: str, fps: float, size: Tuple[int, int]) -> None:
        import cv2
        codec = 'MJPG' if path.lower().endswith('.avi') else 'mp4v'
        self.size = size
        self.writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), fps,
                                      (size[1], size[0]))
        if not self.writer.isOpened():
            raise OSError(f'OpenCV cannot write {path} (codec {codec}); try an .avi output.')

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[:2] != self.size:
            raise ValueError(f'frame {frame.shape[:2]} != video {self.size}')
        self.writer.write(np.ascontiguousarray(frame))

    def close(self) -> None:
        self.writer.release()
