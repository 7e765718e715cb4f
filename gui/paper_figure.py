"""A plot drawn again as a paper figure: a :class:`~gui.plot_snapshot.PlotSnapshot` through matplotlib to PDF or SVG.

The screen plot is read into plain data (:mod:`gui.plot_snapshot`); this module draws that data with matplotlib
at a physical size — by default one column of a two-column paper (:data:`DEFAULT_SIZE`) — with the screen's axis
ranges, tick positions and tick strings, labels, legend, items and stacking order. Text stays text (TrueType
fonts embedded in PDFs, ``<text>`` elements in SVGs) and curves stay paths.

Sizes follow a paper's typography, not the screen's pixels: tick labels, axis labels and the title at
:attr:`FigureSize.font_pt` (a title too long for the width wraps), legends a point smaller; line widths and
marker sizes are the screen's, scaled as the plot is scaled from the screen to the page (a 96 dpi pixel is
0.75 pt; a plot wider than the page scales by at most :attr:`FigureSize.min_ink_scale`), so lines and symbols
keep their proportions to the data area. Matplotlib's constrained layout places the axes, the labels, colour bar
and outside legends so that nothing is cut at any size (docs/design.md, "Figure export").
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, NullFormatter

from gui.plot_snapshot import (
    Bars,
    Image,
    Legend,
    Line,
    Markers,
    PlotSnapshot,
    RuleLine,
    Stroke,
    Text,
)

VECTOR_FORMATS = ("pdf", "svg")


@dataclass(frozen=True)
class FigureSize:
    """The physical size of an exported figure. ``height_in`` None: the screen plot's aspect ratio, kept within
    [:attr:`min_aspect`, :attr:`max_aspect`] (height / width) so that a very wide screen plot stays legible."""

    #: None: one column of a two-column paper (ICML, NeurIPS, IEEE: 3.25–3.5 in) for a plot up to
    #: :attr:`wide_px` wide on screen, the full text width for a wider one (its legend beside the data fits)
    width_in: float | None = None
    height_in: float | None = None
    font_pt: float = 8.0  # the tick labels; captions of such papers are 8–9 pt
    #: line widths and symbols: the screen plot scaled to the figure's width (a 96 dpi pixel is 0.75 pt),
    #: never less than this fraction of their size on screen
    min_ink_scale: float = 0.5
    min_aspect: float = 0.3
    max_aspect: float = 1.0
    column_in: float = 3.5
    page_in: float = 7.0
    wide_px: float = 700.0

    def width_for(self, snap: PlotSnapshot) -> float:
        if self.width_in is not None:
            return float(self.width_in)
        return self.page_in if snap.width_px > self.wide_px else self.column_in

    def height_for(self, snap: PlotSnapshot) -> float:
        if self.height_in is not None:
            return float(self.height_in)
        aspect = snap.height_px / max(1.0, snap.width_px)
        return self.width_for(snap) * float(np.clip(aspect, self.min_aspect, self.max_aspect))

    def check(self) -> None:
        """Raise ValueError naming the bad size."""
        if self.width_in is not None and not (0.5 <= self.width_in <= 40):
            raise ValueError(f"figure width {self.width_in:g} in: use 0.5 to 40 inches")
        if self.height_in is not None and not (0.5 <= self.height_in <= 40):
            raise ValueError(f"figure height {self.height_in:g} in: use 0.5 to 40 inches")
        if not (3 <= self.font_pt <= 40):
            raise ValueError(f"font size {self.font_pt:g} pt: use 3 to 40 points")


DEFAULT_SIZE = FigureSize()

#: pyqtgraph symbol names → matplotlib marker codes.
_MARKERS = {
    "o": "o",
    "s": "s",
    "t": "v",
    "t1": "^",
    "t2": ">",
    "t3": "<",
    "d": "D",
    "+": "P",
    "x": "X",
    "star": "*",
    "p": "p",
    "h": "h",
    "crosshair": "+",
    "arrow_up": "^",
    "arrow_down": "v",
    "arrow_left": "<",
    "arrow_right": ">",
}
#: matplotlib draws these markers larger or smaller than pyqtgraph draws a symbol of the same size.
_MARKER_SCALE = {"D": 0.75, "*": 1.25, "P": 0.85, "X": 0.85}

_TAG = re.compile(r"<(/?)(sub|sup)>", re.IGNORECASE)
_MATH_SPECIAL = re.compile(r"([\\{}_^%#&~$])")


def mathtext(markup: str) -> str:
    """Plain text with <sub>/<sup> (:func:`gui.plot_snapshot.plain_markup`) as matplotlib text: the scripts as
    mathtext, every other character literal (a ``$`` stays a dollar sign)."""
    out: list[str] = []
    pos = 0
    depth: list[str] = []
    for m in _TAG.finditer(markup):
        chunk = markup[pos : m.start()]
        pos = m.end()
        if depth:
            out.append(_MATH_SPECIAL.sub(r"\\\1", chunk).replace(" ", r"\ "))
        else:
            out.append(chunk.replace("$", r"\$"))
        closing, tag = m.group(1) == "/", m.group(2).lower()
        if not closing:
            out.append(("$" if not depth else "") + ("_{" if tag == "sub" else "^{") + r"\mathrm{")
            depth.append(tag)
        elif depth:
            depth.pop()
            out.append("}}" + ("$" if not depth else ""))
    tail = markup[pos:]
    if depth:
        out.append(_MATH_SPECIAL.sub(r"\\\1", tail).replace(" ", r"\ ") + "}}" * len(depth) + "$")
    else:
        out.append(tail.replace("$", r"\$"))
    return "".join(out)


class _Scale:
    """Screen sizes → points on the page (module docstring)."""

    def __init__(self, snap: PlotSnapshot, size: FigureSize):
        fit = size.width_for(snap) * 72 / (0.75 * max(1.0, snap.width_px))
        self.k = 0.75 * float(np.clip(fit, size.min_ink_scale, 1.0))
        self.font = size.font_pt
        self.tick_px = max(1.0, snap.tick_px)

    def pt(self, px: float) -> float:
        return float(px) * self.k

    def lw(self, px: float) -> float:
        return max(0.4, self.pt(px))

    def text_pt(self, px: float) -> float:
        """A text in the view: its screen size relative to the tick font, within a point of the figure font."""
        return float(np.clip(self.font * px / self.tick_px, self.font - 1.5, self.font + 1.0))

    @property
    def legend_pt(self) -> float:
        return max(5.0, self.font - 1.0)


def _linestyle(stroke: Stroke):
    return "-" if stroke.dashes is None else (0, tuple(stroke.dashes))


def _draw_line(ax, it: Line, sc: _Scale) -> None:
    if it.fill_color is not None and it.fill_level is not None:
        ax.fill_between(it.x, it.y, it.fill_level, color=it.fill_color, linewidth=0, zorder=it.z)
    if it.stroke.width_px > 0 and it.stroke.color[3] > 0:
        ax.plot(
            it.x,
            it.y,
            color=it.stroke.color,
            linewidth=sc.lw(it.stroke.width_px),
            linestyle=_linestyle(it.stroke),
            solid_capstyle="butt",
            zorder=it.z,
        )


def _draw_markers(ax, it: Markers, sc: _Scale) -> None:
    symbols = np.asarray(it.symbols, dtype=object)
    for name in dict.fromkeys(it.symbols):
        pick = symbols == name
        marker = _MARKERS.get(name, "o")
        sizes = np.asarray(it.sizes_px, dtype=float)[pick]
        diam_pt = np.array([sc.pt(s) for s in sizes]) * _MARKER_SCALE.get(marker, 1.0)
        ax.scatter(
            np.asarray(it.x)[pick],
            np.asarray(it.y)[pick],
            s=diam_pt**2,
            marker=marker,
            c=[f for f, p in zip(it.faces, pick) if p],
            edgecolors=[e for e, p in zip(it.edges, pick) if p],
            linewidths=[sc.pt(w) for w, p in zip(it.edge_widths_px, pick) if p],
            zorder=it.z,
        )


def _draw_bars(ax, it: Bars, sc: _Scale) -> None:
    left = np.minimum(it.x0, it.x1)
    bottom = np.minimum(it.y0, it.y1)
    ax.bar(
        left,
        np.abs(it.y1 - it.y0),
        width=np.abs(it.x1 - it.x0),
        bottom=bottom,
        align="edge",
        color=it.faces,
        edgecolor=it.edges,
        linewidth=sc.pt(it.edge_width_px),
        zorder=it.z,
    )


def _draw_rule(ax, it: RuleLine, sc: _Scale) -> None:
    kw = dict(
        color=it.stroke.color,
        linewidth=sc.lw(it.stroke.width_px),
        linestyle=_linestyle(it.stroke),
        zorder=it.z,
    )
    (ax.axvline if it.vertical else ax.axhline)(it.pos, **kw)


def _draw_text(ax, it: Text, sc: _Scale) -> None:
    ax_, ay = it.anchor
    ha = "left" if ax_ < 0.25 else "right" if ax_ > 0.75 else "center"
    va = "top" if ay < 0.25 else "bottom" if ay > 0.75 else "center"
    ax.text(
        it.x,
        it.y,
        mathtext(it.text),
        color=it.color,
        fontsize=sc.text_pt(it.size_px),
        ha=ha,
        va=va,
        rotation=-it.angle,
        rotation_mode="anchor",
        clip_on=True,
        zorder=it.z,
    )


def _draw_image(ax, it: Image, sc: _Scale) -> None:
    ax.imshow(it.rgba, extent=it.extent, origin="upper", aspect="auto", interpolation="nearest", zorder=it.z)


_DRAW = {
    Line: _draw_line,
    Markers: _draw_markers,
    Bars: _draw_bars,
    RuleLine: _draw_rule,
    Text: _draw_text,
    Image: _draw_image,
}


def _legend_handles(legend: Legend, sc: _Scale):
    handles, labels = [], []
    for e in legend.entries:
        if e.patch is not None:
            handles.append(Patch(facecolor=e.patch, edgecolor="none"))
        else:
            marker = _MARKERS.get(e.marker, "o") if e.marker else None
            line = e.line
            handles.append(
                Line2D(
                    [],
                    [],
                    color=line.color if line else "none",
                    linewidth=sc.lw(line.width_px) if line else 0,
                    linestyle=_linestyle(line) if line else "none",
                    marker=marker,
                    markersize=sc.pt(e.marker_size_px) * _MARKER_SCALE.get(marker, 1.0) if marker else 0,
                    markerfacecolor=e.marker_face if marker else "none",
                    markeredgecolor=e.marker_edge if marker else "none",
                )
            )
        labels.append(mathtext(e.label))
    return handles, labels


def _inside_loc(legend: Legend, snap: PlotSnapshot) -> str:
    """The corner or edge of the view box nearest the legend's place on screen."""
    lx, ly, lw, lh = legend.rect
    vx, vy, vw, vh = snap.view_rect
    fx = ((lx + lw / 2) - vx) / max(1.0, vw)
    fy = ((ly + lh / 2) - vy) / max(1.0, vh)
    row = "upper" if fy < 0.4 else "lower" if fy > 0.6 else "center"
    col = "left" if fx < 0.4 else "right" if fx > 0.6 else "center"
    if row == col == "center":
        return "center"
    return f"{row} {col}"


def _text_width_pt(s: str, font_pt: float) -> float:
    return 0.55 * font_pt * max((len(line) for line in s.split("\n")), default=0)


def _outside_columns(labels: list[str], font_pt: float, width_in: float, wanted: int) -> int:
    """The most legend columns (at most ``wanted``) whose entries fit the figure's width side by side."""
    widths = [2.6 * font_pt + _text_width_pt(s, font_pt) for s in labels]  # handle, gap, text in points
    for n in range(max(1, min(wanted, len(labels))), 1, -1):
        rows = [widths[i : i + n] for i in range(0, len(widths), n)]
        cols = [max(r[c] for r in rows if c < len(r)) for c in range(n)]
        if sum(cols) + (n - 1) * font_pt <= width_in * 72 * 0.97:
            return n
    return 1


@dataclass
class _LegendPlan:
    place: str  # "inside", "above", "below", "right", "left"
    legends: list[Legend]
    ncols: int
    height_pt: float  # its height outside the axes (0 inside or beside)
    loc: str = ""


def _plan_legends(
    snap: PlotSnapshot, width_in: float, sc: _Scale, axes_height_pt: float
) -> list[_LegendPlan]:
    """Where each legend goes: inside ones at their corner; outside ones merged per side. A legend beside the
    axes that would take more than 40 % of the width or be taller than the axes goes below them instead."""
    plans: list[_LegendPlan] = []
    sides: dict[str, list[Legend]] = {}
    row_pt = sc.legend_pt * 1.45
    for legend in snap.legends:
        if legend.place == "inside":
            plans.append(_LegendPlan("inside", [legend], legend.columns, 0.0, _inside_loc(legend, snap)))
        else:
            sides.setdefault(legend.place, []).append(legend)
    for place, group in list(sides.items()):
        if place in ("left", "right"):
            labels = [e.label for g in group for e in g.entries]
            wide = max(2.6 * sc.legend_pt + _text_width_pt(lab, sc.legend_pt) for lab in labels)
            if wide > 0.3 * width_in * 72 or len(labels) * row_pt > axes_height_pt:
                sides.pop(place)
                sides.setdefault("below", []).extend(group)
    for place, group in sides.items():
        labels = [e.label for g in group for e in g.entries]
        if place in ("above", "below"):
            wanted = max(max(g.columns for g in group), len(labels) if place == "below" else 1)
            ncols = _outside_columns(labels, sc.legend_pt, width_in, max(wanted, 1))
            rows = -(-len(labels) // ncols)
            plans.append(_LegendPlan(place, group, ncols, rows * row_pt + 4))
        else:
            plans.append(_LegendPlan(place, group, 1, 0.0))
    return plans


def _draw_legends(fig: Figure, ax, plans: list[_LegendPlan], sc: _Scale) -> None:
    common = dict(
        fontsize=sc.legend_pt, frameon=False, handlelength=1.8, borderaxespad=0.3, columnspacing=1.0
    )
    common.update(handletextpad=0.5, labelspacing=0.3)
    on_axes = []
    for plan in plans:
        handles, labels = [], []
        for legend in plan.legends:
            h, lab = _legend_handles(legend, sc)
            handles += h
            labels += lab
        if plan.place == "inside":
            art = ax.legend(handles, labels, loc=plan.loc, ncols=plan.ncols, **common)
        elif plan.place == "above":  # between the title and the axes, as on screen
            art = ax.legend(
                handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=plan.ncols, **common
            )
        elif plan.place == "right":
            art = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), **common)
        elif plan.place == "left":
            fig.legend(handles, labels, loc="outside left upper", **common)
            continue
        else:
            fig.legend(handles, labels, loc="outside lower center", ncols=plan.ncols, **common)
            continue
        on_axes.append(art)
    for art in on_axes[:-1]:  # each ax.legend call replaces the one before: keep the earlier ones as artists
        ax.add_artist(art)
        art.set_clip_on(False)


def _wrapped(title: str, font_pt: float, width_in: float) -> str:
    """A title broken into lines that fit the figure's width."""
    import textwrap

    chars = max(12, int(width_in * 72 * 0.95 / (0.55 * font_pt)))
    return "\n".join(textwrap.wrap(title, chars)) if len(title) > chars else title


def _thinned(ticks: list[tuple[float, str]], room_pt: float, font_pt: float, vertical: bool):
    """The screen's labelled ticks, every second one dropped (in turn) while their labels would not fit the
    figure's axis side by side; the dropped ones become minor ticks. Keeps the tick at 0 when there is one."""
    minor: list[float] = []

    def need(ts) -> float:
        if vertical:
            return sum(1.25 * font_pt * (s.count("\n") + 1) for _, s in ts)
        return sum(_text_width_pt(s, font_pt) + 0.9 * font_pt for _, s in ts)

    while len(ticks) > 2 and need(ticks) > room_pt:
        zero = next((i for i, (v, _) in enumerate(ticks) if abs(v) < 1e-12), 0)
        keep = [t for i, t in enumerate(ticks) if (i - zero) % 2 == 0]
        minor += [v for i, (v, _) in enumerate(ticks) if (i - zero) % 2]
        ticks = keep
    return ticks, minor


def figure(snap: PlotSnapshot, size: FigureSize = DEFAULT_SIZE) -> Figure:
    """The matplotlib figure of ``snap`` at ``size`` (module docstring)."""
    size.check()
    sc = _Scale(snap, size)
    font = size.font_pt
    title_pt = font + 0.5
    width = size.width_for(snap)
    title = _wrapped(snap.title, title_pt, width) if snap.title else ""
    axes_height_pt = size.height_for(snap) * 72 - 3.2 * font  # less the tick labels and the x label
    plans = _plan_legends(snap, width, sc, axes_height_pt)
    height = size.height_for(snap)
    if size.height_in is None:  # the screen's aspect, but never an axes box flatter than 2 : 5
        around = sum(p.height_pt for p in plans) + (title.count("\n") + 1) * 1.3 * title_pt * bool(title)
        height = max(height, (around + 3.2 * font) / 72 + 0.4 * min(width, size.column_in))
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.get_layout_engine().set(w_pad=2 / 72, h_pad=2 / 72, wspace=0, hspace=0)
    ax = fig.add_subplot()
    for it in snap.items:
        _DRAW[type(it)](ax, it, sc)
    ax.set_xlim(*snap.xlim)
    ax.set_ylim(*snap.ylim)
    beside = sum(0.3 * width * 72 for p in plans if p.place in ("left", "right"))
    room = {
        "bottom": width * 72 * 0.8 - beside - (50 if snap.colorbar is not None else 0),
        "left": axes_height_pt * 0.9,
    }
    for axis, spec, side in ((ax.xaxis, snap.bottom, "bottom"), (ax.yaxis, snap.left, "left")):
        ticks, dropped, tick_pt = spec.ticks, [], font
        if not spec.explicit:
            ticks, dropped = _thinned(spec.ticks, room[side], font, vertical=side == "left")
        elif side == "bottom":  # named ticks (bar categories) are all kept, in a smaller font if need be
            need = sum(_text_width_pt(s, font) + 0.9 * font for _, s in ticks)
            tick_pt = max(font - 2.0, font * min(1.0, room[side] / max(need, 1.0)))
        axis.set_major_locator(FixedLocator([v for v, _ in ticks]))
        axis.set_ticklabels([mathtext(s) for _, s in ticks], fontsize=tick_pt)
        axis.set_minor_locator(FixedLocator(sorted(set(spec.minor) | set(dropped))))
        axis.set_minor_formatter(NullFormatter())
        if spec.grid_alpha > 0:
            # pyqtgraph fades its grid with the number of lines; half the nominal alpha is close on a page
            axis.grid(True, which="major", color="black", alpha=0.5 * spec.grid_alpha, linewidth=0.4)
        if not spec.visible:
            axis.set_visible(False)
            ax.spines[side].set_visible(False)
    ax.set_xlabel(mathtext(snap.bottom.label), fontsize=font)
    ax.set_ylabel(mathtext(snap.left.label), fontsize=font)
    ax.tick_params(which="both", width=0.6, direction="out")
    ax.tick_params(which="major", length=3)
    ax.tick_params(which="minor", length=1.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_linewidth(0.6)
    if title:
        fig.suptitle(mathtext(title), fontsize=title_pt)
    _draw_legends(fig, ax, plans, sc)
    if snap.colorbar is not None:
        cb = snap.colorbar
        from matplotlib.cm import ScalarMappable

        mappable = ScalarMappable(Normalize(cb.low, cb.high), ListedColormap(cb.colors / 255.0))
        vx, _vy, vw, _vh = snap.view_rect
        bx, _by, bw, _bh = cb.rect
        # the strip's width and its gap to the data as on screen, as fractions of the data area's width
        fraction = float(np.clip(bw / max(vw, 1.0), 0.02, 0.15)) if bw > 0 else 0.05
        pad = float(np.clip((bx - vx - vw) / max(vw, 1.0), 0.01, 0.2)) if bw > 0 else 0.03
        bar = fig.colorbar(mappable, ax=ax, fraction=fraction, pad=pad, aspect=30)
        if cb.ticks:  # the screen's ticks
            bar.set_ticks([v for v, _ in cb.ticks], labels=[mathtext(t) for _, t in cb.ticks])
        bar.set_label(mathtext(cb.label), fontsize=font)
        bar.ax.tick_params(labelsize=font, width=0.6, length=2.5)
        bar.outline.set_linewidth(0.6)
    return fig


def _style(size: FigureSize):
    """The rc settings every paper figure is drawn under: DejaVu Sans with STIX as fallback (both shipped with
    matplotlib, so the SVG's text renders the same wherever matplotlib is installed), fonts embedded as
    TrueType, SVG text as text."""
    import matplotlib

    return matplotlib.rc_context(
        {
            "pdf.fonttype": 42,
            "svg.fonttype": "none",
            "font.size": size.font_pt,
            # STIX (also shipped with matplotlib) for what DejaVu lacks, e.g. the script 𝓔 of the schedules
            "font.family": ["DejaVu Sans", "STIXGeneral"],
            "mathtext.fontset": "dejavusans",
            "axes.unicode_minus": True,
            "svg.hashsalt": "influence-lab",  # the same figure gives the same SVG bytes
        }
    )


def vector_documents(
    snap: PlotSnapshot, fmts=VECTOR_FORMATS, size: FigureSize = DEFAULT_SIZE, title: str = ""
) -> dict[str, bytes]:
    """``snap`` as PDF and / or SVG documents at ``size`` (text as text, TrueType in PDF; curves as paths), the
    figure drawn once for all of them."""
    bad = [f for f in fmts if f not in VECTOR_FORMATS]
    if bad:
        raise ValueError(f"unknown vector format {bad[0]!r}; use pdf or svg")
    out: dict[str, bytes] = {}
    with _style(size):
        fig = figure(snap, size)
        for fmt in fmts:
            buf = io.BytesIO()
            # no date: the same plot gives the same bytes
            meta = {"Title": title or snap.title or "Influence Lab plot", "Creator": "Influence Lab"}
            meta["Date" if fmt == "svg" else "CreationDate"] = None
            fig.savefig(buf, format=fmt, facecolor="white", metadata=meta)
            out[fmt] = buf.getvalue()
    return out


def vector_bytes(snap: PlotSnapshot, fmt: str, size: FigureSize = DEFAULT_SIZE, title: str = "") -> bytes:
    """``snap`` as one PDF or SVG document (:func:`vector_documents`)."""
    return vector_documents(snap, (fmt,), size, title)[fmt]


def data_area(snap: PlotSnapshot, size: FigureSize = DEFAULT_SIZE) -> tuple[float, float, float, float]:
    """Where the data area lies on the page of :func:`vector_bytes`: (left, top, right, bottom) as fractions
    of the page's width and height, from the top left."""
    with _style(size):
        fig = figure(snap, size)
        fig.draw_without_rendering()  # runs the constrained layout
        pos = fig.axes[0].get_position()
    return (pos.x0, 1.0 - pos.y1, pos.x1, 1.0 - pos.y0)


__all__ = [
    "DEFAULT_SIZE",
    "VECTOR_FORMATS",
    "FigureSize",
    "data_area",
    "figure",
    "mathtext",
    "vector_bytes",
    "vector_documents",
]
