"""An animation written as files people share: numbered PNG frames, a looping GIF and an H.264 MP4.

:class:`AnimationFiles` takes the frames one at a time (a long animation never sits in memory at full size):
the PNGs and the MP4 (imageio's ffmpeg writer, the binary shipped by imageio-ffmpeg) are streamed, the GIF
(Pillow through imageio) keeps a copy of each frame at most :data:`GIF_MAX_WIDTH` pixels wide and at most
:data:`GIF_MAX_FRAMES` frames (every k-th frame beyond that), since GIF files grow fast and are shared in
chats and slides. The GIF and the MP4 are written under a temporary name and renamed when complete, so an
interrupted export never leaves a truncated file under the final name.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

GIF_MAX_WIDTH = 720
GIF_MAX_FRAMES = 120


def qimage_rgb(img: QImage) -> np.ndarray:
    """The image as an (h, w, 3) uint8 RGB array."""
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes())
    return buf.reshape(h, img.bytesPerLine())[:, : 3 * w].reshape(h, w, 3).copy()


def _even(rgb: np.ndarray) -> np.ndarray:
    """Padded with white to even width and height (H.264 in yuv420p needs both even)."""
    h, w, _ = rgb.shape
    if h % 2 == 0 and w % 2 == 0:
        return rgb
    out = np.full((h + h % 2, w + w % 2, 3), 255, dtype=np.uint8)
    out[:h, :w] = rgb
    return out


class AnimationFiles:
    """``folder``/``stem``/frame_0000.png …, ``folder``/``stem``.gif and ``folder``/``stem``.mp4."""

    def __init__(self, folder: str | Path, stem: str, count: int, fps: float):
        import imageio.v2 as imageio

        self.folder = Path(folder)
        self.frames_dir = self.folder / stem
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        self.gif_path = self.folder / f"{stem}.gif"
        self.mp4_path = self.folder / f"{stem}.mp4"
        self.fps = float(min(max(fps, 1.0), 30.0))
        self.gif_every = max(1, -(-int(count) // GIF_MAX_FRAMES))
        self._gif: list[np.ndarray] = []
        self._n = 0
        self._size: tuple[int, int] | None = None
        self.written: list[Path] = []
        self._mp4_tmp = self.mp4_path.with_name(f".{stem}.partial.mp4")
        self._mp4 = imageio.get_writer(
            str(self._mp4_tmp),
            fps=self.fps,
            codec="libx264",
            pixelformat="yuv420p",
            quality=8,
            macro_block_size=1,
            ffmpeg_log_level="error",
        )

    def add(self, img: QImage) -> Path:
        """Write one frame; returns its PNG."""
        out = self.frames_dir / f"frame_{self._n:04d}.png"
        if not img.save(str(out)):
            raise OSError(f"{out}: could not write the PNG")
        self.written.append(out)
        rgb = _even(qimage_rgb(img))
        if self._size is None:
            self._size = rgb.shape[:2]
        elif rgb.shape[:2] != self._size:  # a video keeps its first frame's size
            padded = np.full((*self._size, 3), 255, dtype=np.uint8)
            h, w = min(self._size[0], rgb.shape[0]), min(self._size[1], rgb.shape[1])
            padded[:h, :w] = rgb[:h, :w]
            rgb = padded
        self._mp4.append_data(rgb)
        if self._n % self.gif_every == 0:
            small = img.scaledToWidth(GIF_MAX_WIDTH, Qt.TransformationMode.SmoothTransformation)
            self._gif.append(qimage_rgb(small if img.width() > GIF_MAX_WIDTH else img))
        self._n += 1
        return out

    def close(self) -> list[Path]:
        """Finish the MP4 and write the GIF; returns every file written."""
        import imageio.v3 as iio

        self._mp4.close()
        if self._n == 0:
            self._mp4_tmp.unlink(missing_ok=True)
            return self.written
        os.replace(self._mp4_tmp, self.mp4_path)
        self.written.append(self.mp4_path)
        gif_tmp = self.gif_path.with_name(f".{self.gif_path.stem}.partial.gif")
        shape = self._gif[0].shape
        gif = [g if g.shape == shape else _fit(g, shape) for g in self._gif]
        iio.imwrite(
            gif_tmp, np.stack(gif), extension=".gif", duration=1000.0 * self.gif_every / self.fps, loop=0
        )
        os.replace(gif_tmp, self.gif_path)
        self.written.append(self.gif_path)
        return self.written

    def abort(self) -> None:
        """Stop without the GIF and MP4 (the PNG frames written so far stay)."""
        try:
            self._mp4.close()
        finally:
            self._mp4_tmp.unlink(missing_ok=True)


def _fit(rgb: np.ndarray, shape) -> np.ndarray:
    out = np.full(shape, 255, dtype=np.uint8)
    h, w = min(shape[0], rgb.shape[0]), min(shape[1], rgb.shape[1])
    out[:h, :w] = rgb[:h, :w]
    return out


__all__ = ["GIF_MAX_FRAMES", "GIF_MAX_WIDTH", "AnimationFiles", "qimage_rgb"]
