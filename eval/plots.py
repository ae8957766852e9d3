"""The QA report's figures (matplotlib, headless), each returned as PNG bytes for embedding."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from eval.callscore import CallResult  # noqa: E402

# Labels carry Japanese (call ids, categories): fall back to whichever CJK font is installed.
_CJK = ("Noto Sans CJK JP", "IPAGothic", "IPAPGothic", "TakaoGothic", "VL Gothic", "Droid Sans Fallback")
_installed = {f.name for f in font_manager.fontManager.ttflist}
plt.rcParams["font.family"] = ["DejaVu Sans", *(name for name in _CJK if name in _installed)]

CUSTOMER, AGENT, HIT, MISS, TARGET = "#2b7bba", "#9aa5b1", "#2a9d4b", "#d1495b", "#e09f3e"


def to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def latency_distributions(results: Sequence[CallResult], target_s: float) -> bytes:
    """Histograms of speech end → first suggestion and → final transcript, and notes after hang-up."""
    sugg = [t.suggestion_latency_s for r in results for t in r.turns if t.suggestion_latency_s is not None]
    final = [t.final_latency_s for r in results for t in r.turns if t.final_latency_s is not None]
    notes = [r.summary_latency_s for r in results if r.summary_latency_s is not None]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    panels = ((axes[0], sugg, "speech end → first suggestion", CUSTOMER),
              (axes[1], final, "speech end → final transcript", AGENT),
              (axes[2], notes, "hang-up → notes", HIT))
    for ax, values, title, color in panels:
        if values:
            ax.hist(values, bins=min(20, max(5, len(values) // 2)), color=color, edgecolor="white")
        ax.set_title(f"{title} (n={len(values)})", fontsize=10)
        ax.set_xlabel("seconds")
        ax.grid(axis="y", alpha=0.3)
    axes[0].axvline(target_s, color=TARGET, linestyle="--", label=f"target p95 {target_s:g} s")
    axes[0].legend(fontsize=8)
    axes[0].set_ylabel("turns")
    return to_png(fig)


def call_timelines(results: Sequence[CallResult], spans: dict[str, Sequence[Any]]) -> bytes:
    """One row per call: turns on the call clock, when each final transcript and first card arrived."""
    fig, ax = plt.subplots(figsize=(13, 0.55 * len(results) + 1.2))
    for row, result in enumerate(results):
        y = len(results) - 1 - row
        for span, turn in zip(spans[result.id], result.turns, strict=True):
            color = CUSTOMER if span.speaker == "customer" else AGENT
            ax.barh(y, span.speech_end - span.speech_start, left=span.speech_start, height=0.5, color=color)
            if turn.final_latency_s is not None:
                ax.plot(span.speech_end + turn.final_latency_s, y + 0.32, "v", color="black", markersize=4)
            if turn.suggestion_latency_s is not None:
                mark = MISS if turn.expected and not turn.hit3 else HIT if turn.expected else TARGET
                ax.plot(span.speech_end + turn.suggestion_latency_s, y - 0.32, "^", color=mark, markersize=6)
    ax.set_yticks(range(len(results)), [r.id for r in reversed(results)], fontsize=8)
    ax.set_xlabel("seconds from call start")
    handles = [plt.Rectangle((0, 0), 1, 1, color=CUSTOMER), plt.Rectangle((0, 0), 1, 1, color=AGENT),
               plt.Line2D([], [], marker="v", color="black", linestyle=""),
               plt.Line2D([], [], marker="^", color=HIT, linestyle=""),
               plt.Line2D([], [], marker="^", color=MISS, linestyle=""),
               plt.Line2D([], [], marker="^", color=TARGET, linestyle="")]
    ax.legend(handles, ["customer speech", "agent speech", "final transcript", "cards (expected hit)",
                        "cards (expected miss)", "cards (other turn)"], fontsize=7, ncol=6, loc="upper center",
              bbox_to_anchor=(0.5, -0.12 - 0.3 / max(1, len(results))))
    ax.grid(axis="x", alpha=0.3)
    return to_png(fig)


def query_ranks(ranks: Sequence[int | None], labels: Sequence[str]) -> bytes:
    """Retrieval: rank of the first relevant article per query (None = not in the top 3), by query group."""
    groups = sorted(set(labels))
    buckets = [("rank 1", HIT, lambda r: r == 1), ("rank 2", "#8cc084", lambda r: r == 2),
               ("rank 3", TARGET, lambda r: r == 3), ("miss", MISS, lambda r: r is None)]
    fig, ax = plt.subplots(figsize=(13, 0.45 * len(groups) + 1.2))
    left = [0.0] * len(groups)
    for name, color, test in buckets:
        counts = [sum(1 for r, g in zip(ranks, labels, strict=True) if g == group and test(r)) for group in groups]
        ax.barh(groups, counts, left=left, color=color, label=name)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_xlabel("queries")
    ax.legend(fontsize=8, ncol=4, loc="lower right")
    ax.invert_yaxis()
    return to_png(fig)


def per_call_bars(results: Sequence[CallResult]) -> bytes:
    """Transcript error rate and notes fact coverage per call."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.35 * len(results) + 1.4), sharey=True)
    names = [r.id for r in results]
    axes[0].barh(names, [r.error_rate or 0.0 for r in results], color=AGENT)
    axes[0].set_title("transcript error (CER ja / WER en)", fontsize=10)
    axes[1].barh(names, [r.fact_coverage or 0.0 for r in results],
                 color=[MISS if (r.invented_numbers or 0) else HIT for r in results])
    axes[1].axvline(0.9, color=TARGET, linestyle="--")
    axes[1].set_xlim(0, 1)
    axes[1].set_title("notes fact coverage (red: invented numbers)", fontsize=10)
    axes[0].invert_yaxis()
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="y", labelsize=8)
    return to_png(fig)
