"""Paper figures look like the plots on screen: every PDF and SVG that File → Export figures writes is rasterised
by an independent renderer (pdfium for PDF, resvg for SVG) and compared with the PNG of the same plot (Qt's
rendering of the screen): the data area holds the same ink in the same places, the texts are there as text,
the page has the plot's proportions. A figure drawn with a wrong axis range fails the same comparison."""

from __future__ import annotations

import dataclasses
import html
import io
import re
from pathlib import Path

import matplotlib
import numpy as np
import pypdfium2 as pdfium
import pytest
import resvg_py
from gui_fixtures import *  # noqa: F403
from gui_fixtures import wait_analysis
from PIL import Image, ImageFilter
from PySide6.QtWidgets import QApplication

from gui.paper_figure import DEFAULT_SIZE, FigureSize, data_area, mathtext, vector_bytes
from gui.plot_snapshot import plain_markup, snapshot

FONT_DIR = str(Path(matplotlib.get_data_path()) / "fonts" / "ttf")
GRID = (64, 48)  # ink maps compared at this size, blurred over 2 cells (3 % of the width)
MIN_CORRELATION = 0.8


def ink(img: Image.Image, box=None) -> np.ndarray:
    """Darkness (0 white … 1 black) of ``img`` (cropped to ``box``) on GRID, Gaussian-blurred."""
    img = img.convert("RGBA")
    flat = Image.new("RGBA", img.size, "white")
    flat.alpha_composite(img)
    g = flat.convert("L")
    if box is not None:
        g = g.crop(tuple(int(round(v)) for v in box))
    g = g.resize(GRID, Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(2))
    return 1.0 - np.asarray(g, dtype=float) / 255.0


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def pdf_image(data: bytes) -> Image.Image:
    return pdfium.PdfDocument(data)[0].render(scale=2).to_pil()


def pdf_text(data: bytes) -> str:
    page = pdfium.PdfDocument(data)[0]
    return page.get_textpage().get_text_range()


def svg_image(text: str) -> Image.Image:
    png = resvg_py.svg_to_bytes(svg_string=text, dpi=144.0, font_dirs=[FONT_DIR], background="#ffffff")
    return Image.open(io.BytesIO(bytes(png)))


def boxes(snap, png: Image.Image, page: Image.Image):
    """The data area in the PNG export (the screen at twice its pixels) and on the figure's page, both cut to
    the part the screen shows (a plot laid out wider than its widget is clipped on screen)."""
    x, y, w, h = (2 * v for v in snap.view_rect)
    sx0, sy0 = max(x, 0.0), max(y, 0.0)
    sx1, sy1 = min(x + w, png.width), min(y + h, png.height)
    left, top, right, bottom = data_area(snap, DEFAULT_SIZE)
    pw, ph = page.size
    fx = lambda v: (left + (v - x) / w * (right - left)) * pw  # noqa: E731
    fy = lambda v: (top + (v - y) / h * (bottom - top)) * ph  # noqa: E731
    return (sx0, sy0, sx1, sy1), (fx(sx0), fy(sy0), fx(sx1), fy(sy1))


def unsigned(text: str) -> str:
    """Without hyphens and minus signs (a PDF's text extraction may give either for the other)."""
    return text.replace("-", "").replace("\u2212", "")


def squash(text: str) -> str:
    """A text without markup or white space (mathtext scripts come out of a PDF as plain letters)."""
    return re.sub(r"\s+", "", re.sub(r"</?su[bp]>", "", text))


def test_every_exported_pdf_and_svg_matches_its_png(qtbot, trained_window, tmp_path):
    w = trained_window
    w.state.delete_point(7)
    w.state.select(7)
    wait_analysis(qtbot, w)
    files = w.export_figures(tmp_path, overwrite=True)
    assert files is not None
    checked = []
    for name, (plot, dock, _provider) in w.all_plots().items():
        if dock is not None:  # as export_figures did: bring the plot's dock up to read it as it was exported
            dock.show()
            dock.raise_()
            QApplication.processEvents()
        snap = snapshot(plot)
        assert snap.skipped == [], f"{name}: items not drawn in the paper figure: {snap.skipped}"
        png = Image.open(tmp_path / f"{name}.png")
        pdf_bytes = (tmp_path / f"{name}.pdf").read_bytes()
        svg_text = (tmp_path / f"{name}.svg").read_text()
        for kind, page in (("pdf", pdf_image(pdf_bytes)), ("svg", svg_image(svg_text))):
            on_screen, on_page = boxes(snap, png, page)
            screen, paper = ink(png, on_screen), ink(page, on_page)
            r = correlation(screen, paper)
            print(f"{name}.{kind}: data area correlation {r:.3f}")  # shown with pytest -s
            if r < MIN_CORRELATION:  # leave the two ink maps and the page beside the exports to look at
                pair = np.concatenate([screen, paper], axis=1)
                Image.fromarray((255 * (1 - pair)).astype(np.uint8)).resize((512, 192)).save(
                    tmp_path / f"ink-{name}-{kind}.png"
                )
                page.save(tmp_path / f"page-{name}-{kind}.png")
            assert r >= MIN_CORRELATION, (
                f"{name}.{kind}: data area correlates {r:.2f} with the PNG ({tmp_path})"
            )
            # the page keeps the plot's proportions (a figure may grow to keep its axes box legible)
            aspect, screen_aspect = page.height / page.width, png.height / png.width
            assert 0.8 * screen_aspect <= aspect <= 1.6 * max(screen_aspect, 0.3), (name, kind, aspect)
        # text is text: title, axis labels, legend entries and tick labels can be found in the PDF and the SVG
        text = squash(pdf_text(pdf_bytes))
        svg_plain = squash(html.unescape(re.sub(r"<[^>]+>", "", svg_text)))
        wanted = [snap.title, snap.bottom.label, snap.left.label]
        wanted += [e.label for legend in snap.legends for e in legend.entries]
        for want in filter(None, (squash(plain_markup(t)) for t in wanted)):
            assert unsigned(want) in unsigned(text), (name, want)
            assert set(want) <= set(svg_plain), (name, want)  # mathtext glyphs come in their own order
        for axis in (snap.bottom, snap.left):
            shown = [s for _, s in axis.ticks if s and squash(s) in text]
            assert len(shown) >= min(2, len(axis.ticks)), (name, axis.ticks)
        checked.append(name)
    assert len(checked) >= 8


def test_a_wrong_axis_range_fails_the_comparison(qtbot, trained_window, tmp_path):
    """The comparison above can fail: the same plot drawn with its view zoomed out three times does not pass."""
    plot = trained_window.fit_view.plot
    snap = snapshot(plot)
    png = Image.open(
        Path(trained_window.export_figures(tmp_path, overwrite=True)[0]).parent / "data-and-fit.png"
    )
    page = pdf_image(vector_bytes(snap, "pdf"))
    on_screen, on_page = boxes(snap, png, page)
    screen = ink(png, on_screen)
    assert correlation(screen, ink(page, on_page)) >= MIN_CORRELATION
    (x0, x1), (y0, y1) = snap.xlim, snap.ylim
    wrong = dataclasses.replace(
        snap,
        xlim=(x0 - (x1 - x0), x1 + (x1 - x0)),
        ylim=(y0 - (y1 - y0), y1 + (y1 - y0)),
    )
    page = pdf_image(vector_bytes(wrong, "pdf"))
    assert correlation(screen, ink(page, boxes(wrong, png, page)[1])) < MIN_CORRELATION


def test_figure_size_options_and_bad_sizes(trained_window):
    snap = snapshot(trained_window.training_panel.loss_plot)
    data = vector_bytes(snap, "pdf", FigureSize(width_in=5.0, height_in=2.5, font_pt=10))
    page = pdfium.PdfDocument(data)[0]
    assert page.get_size() == pytest.approx((360.0, 180.0), abs=0.5)  # points
    assert DEFAULT_SIZE.width_for(snap) == 3.5  # one paper column for a plot of ordinary width
    with pytest.raises(ValueError, match="width"):
        vector_bytes(snap, "pdf", FigureSize(width_in=0.1))
    with pytest.raises(ValueError, match="font"):
        vector_bytes(snap, "svg", FigureSize(font_pt=100))


def test_markup_becomes_mathtext_and_dollars_stay_literal():
    assert mathtext("z<sub>j</sub> costs $5") == r"z$_{\mathrm{j}}$ costs \$5"
    assert mathtext("10<sup>-3</sup>") == r"10$^{\mathrm{-3}}$"
    fig_text = mathtext("θ<sub>a b</sub>")
    assert fig_text == r"θ$_{\mathrm{a\ b}}$"
