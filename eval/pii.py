"""``python -m eval pii``: recall of the PII masker on the labelled corpus, false positives on the KB.

An entity counts as caught when one masked span covers all of it (masked as another kind still
counts: it is gone either way; the kind accuracy is reported beside). A KB text is a false positive
when anything in it is masked: FAQ answers are shown to agents verbatim and must survive intact.
Rows with ``finals`` are one leg's consecutive finals, masked through the rolling window: an entity read
across them is caught when no piece of it is left in any final. Rows with ``partial`` are partial
transcripts, masked by the partial rule (every run of ≥ 4 digits; its generic label counts as the kind).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from summarize.masking import PARTIAL_MIN_DIGITS, Masker
from summarize.pii import find_pii, label, number_runs

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "pii_corpus.jsonl"
KB = Path(__file__).parent / "data" / "kb.jsonl"


@dataclass
class PiiReport:
    entities: int = 0
    caught: int = 0
    right_kind: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [caught, total]
    misses: list[str] = field(default_factory=list)
    negatives: int = 0
    negative_fp: list[str] = field(default_factory=list)
    kb_texts: int = 0
    kb_fp: list[str] = field(default_factory=list)
    us_per_text: float = 0.0

    @property
    def recall(self) -> float:
        return self.caught / self.entities if self.entities else 0.0

    @property
    def kb_fp_rate(self) -> float:
        return len(self.kb_fp) / self.kb_texts if self.kb_texts else 0.0


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(corpus: list[dict], kb: list[dict]) -> PiiReport:
    report = PiiReport()
    counts: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    started = time.perf_counter()
    masker = Masker()
    for row in corpus:
        text, spans = row["text"], find_pii(row["text"], row["language"])
        if not row["entities"]:
            report.negatives += 1
            if spans:
                report.negative_fp.append(text)
            continue
        if row.get("partial"):
            spans = spans + number_runs(text, PARTIAL_MIN_DIGITS)
        found = _across_finals(masker, row) if row.get("finals") else None
        for ent in row["entities"]:
            i = text.index(ent["value"])
            j = i + len(ent["value"])
            kinds = found[ent["value"]] if found is not None else [k for s, e, k in spans if s <= i and e >= j]
            counts[ent["kind"]] += 1
            report.entities += 1
            if kinds:
                caught[ent["kind"]] += 1
                report.caught += 1
                report.right_kind += ent["kind"] in kinds or (bool(row.get("partial")) and "number" in kinds)
            else:
                report.misses.append(f"{ent['kind']}: {text}")
    for article in kb:
        for name in ("title", "question", "answer"):
            if article.get(name):
                report.kb_texts += 1
                if find_pii(article[name], article.get("language") or "ja"):
                    report.kb_fp.append(f"{article['id']}.{name}")
    report.us_per_text = (time.perf_counter() - started) * 1e6 / max(1, len(corpus) + report.kb_texts)
    report.by_kind = {k: [caught[k], counts[k]] for k in sorted(counts)}
    return report


def _across_finals(masker: Masker, row: dict) -> dict[str, list[str]]:
    """Per entity value: ``[kind]`` when, after the window, no piece of it is left in any final (and every
    final it touched shows that kind's label), ``["other"]`` for another label, ``[]`` when a piece is left."""
    pieces: list[str] = row["finals"]
    language = row["language"]
    masked = list(pieces)
    window = masker.window()
    for n, piece in enumerate(pieces):
        result = window.push(n, piece, language, at=float(n))
        masked[n] = result.text
        for c in result.corrections:
            masked[int(c.key)] = c.text  # type: ignore[call-overload]
    found: dict[str, list[str]] = {}
    joined = " ".join(pieces)
    for ent in row["entities"]:
        i = joined.index(ent["value"])
        j = i + len(ent["value"])
        left, labelled, offset = False, True, 0
        for piece, out in zip(pieces, masked, strict=True):
            part = joined[max(i, offset):min(j, offset + len(piece))].strip()
            if part:
                left = left or part in out
                labelled = labelled and label(ent["kind"], language) in out
            offset += len(piece) + 1
        found[ent["value"]] = [] if left else [ent["kind"] if labelled else "other"]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval pii", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--kb", type=Path, default=KB)
    args = parser.parse_args(argv)
    report = evaluate(read_jsonl(args.corpus), read_jsonl(args.kb))
    print(f"entities {report.entities}  recall {report.recall:.3f}  "
          f"kind accuracy {report.right_kind / max(1, report.caught):.3f}")
    for kind, (hit, total) in report.by_kind.items():
        print(f"  {kind:9} {hit}/{total}")
    print(f"negative sentences {report.negatives}: {len(report.negative_fp)} masked")
    print(f"KB texts {report.kb_texts}: {len(report.kb_fp)} masked ({report.kb_fp_rate:.1%})")
    print(f"{report.us_per_text:.0f} µs per text")
    for line in report.misses + report.negative_fp + report.kb_fp:
        print("  !", line)
    return 0
