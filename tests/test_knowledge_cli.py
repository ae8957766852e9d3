"""``assist kb ...`` end to end through ``assist.cli.main``: output, JSON, error codes, exit status.

Each test gets its own ``ASSIST_HOME``. Search and reindex use the hash embedder (these tests are about
the CLI); one test runs the real e5-small through the same code path.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.retrieval_fakes import HashEmbedder
from tqdm import tqdm

import assist.kb_cli
import retrieval.embedders
from assist.cli import main
from knowledge.io import parse_text

ROWS = [
    {"id": "lost-card", "title": "カードを紛失・盗難にあった場合", "question": "カードをなくしました",
     "answer": "紛失受付デスク（24時間）へご連絡ください。カードの利用を止めて再発行します。",
     "category": "カード", "tags": ["紛失", "盗難"], "language": "ja"},
    {"id": "address-change", "title": "住所を変更したい", "question": "引っ越しました",
     "answer": "会員サイトの登録情報から新しい住所に変更できます。", "category": "手続き", "language": "ja"},
    {"id": "plan-change-en", "title": "Changing your mobile plan", "question": "I want a cheaper plan",
     "answer": "You can switch plans in the app; the new plan starts next month.", "category": "Telecom",
     "language": "en"},
]


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("ASSIST_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ASSIST_CONFIG", raising=False)
    handlers = logging.getLogger().handlers[:]  # main() installs its own stderr handler
    yield tmp_path / "home"
    logging.getLogger().handlers[:] = handlers


@pytest.fixture
def kb_file(tmp_path: Path) -> Path:
    path = tmp_path / "kb.jsonl"
    path.write_text(_jsonl(ROWS), encoding="utf-8")
    return path


@pytest.fixture
def fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retrieval.embedders, "build_embedder", lambda settings, registry, **kw: HashEmbedder())


def kb(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["kb", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _imported(capsys: pytest.CaptureFixture[str], kb_file: Path) -> None:
    code, _, err = kb(capsys, "import", str(kb_file))
    assert code == 0, err


def test_import_list_show(home: Path, kb_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = kb(capsys, "import", str(kb_file))
    assert code == 0
    assert out.strip() == "3 article(s): 3 were created, 0 updated, 0 unchanged (KB revision 1)"
    assert (home / "knowledge.db").is_file()

    code, out, _ = kb(capsys, "list")
    lines = out.splitlines()
    assert code == 0 and lines[-1] == "3 article(s)"
    assert {line.split()[0] for line in lines[:-1]} == {"lost-card", "address-change", "plan-change-en"}

    code, out, _ = kb(capsys, "list", "--json", "--language", "ja", "--category", "カード")
    assert code == 0
    [article] = json.loads(out)
    assert article["id"] == "lost-card" and article["tags"] == ["紛失", "盗難"] and article["revision"] == 1

    code, out, _ = kb(capsys, "show", "plan-change-en")
    shown = json.loads(out)
    assert code == 0 and "history" not in shown
    assert shown["article"]["title"] == "Changing your mobile plan"
    assert shown["article"]["questions"] == ["I want a cheaper plan"]


def test_import_json_report_and_revisions(home: Path, kb_file: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _imported(capsys, kb_file)
    changed = tmp_path / "changed.jsonl"
    rows = [{**ROWS[0], "answer": "紛失受付デスクへお電話ください。"}, ROWS[1],
            {"id": "new-one", "title": "New", "answer": "Answer", "language": "en"}]
    changed.write_text(_jsonl(rows), encoding="utf-8")
    code, out, err = kb(capsys, "import", str(changed), "--json")
    assert code == 0 and err == ""  # no progress bar or chatter with --json
    assert json.loads(out) == {"dry_run": False, "created": ["new-one"], "updated": ["lost-card"],
                               "unchanged": ["address-change"], "total": 3}

    code, out, _ = kb(capsys, "show", "lost-card", "--history")
    shown = json.loads(out)
    assert shown["article"]["revision"] == 2 and shown["article"]["answer"] == "紛失受付デスクへお電話ください。"
    assert [(h["revision"], h["action"], h["kb_revision"]) for h in shown["history"]] == [
        (1, "upsert", 1), (2, "upsert", 2)]


def test_dry_run_changes_nothing(home: Path, kb_file: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = kb(capsys, "import", str(kb_file), "--dry-run")
    assert code == 0 and out.startswith("3 article(s): 3 would be created")
    assert kb(capsys, "list")[1].strip() == "0 article(s)"

    _imported(capsys, kb_file)
    changed = tmp_path / "changed.jsonl"
    changed.write_text(_jsonl([{**ROWS[0], "title": "別のタイトル"}]), encoding="utf-8")
    code, out, _ = kb(capsys, "import", str(changed), "--dry-run", "--json")
    assert code == 0 and json.loads(out)["updated"] == ["lost-card"] and json.loads(out)["dry_run"] is True
    after = json.loads(kb(capsys, "show", "lost-card")[1])["article"]
    assert after["title"] == ROWS[0]["title"] and after["revision"] == 1
    report = json.loads(kb(capsys, "import", str(kb_file), "--json")[1])
    assert report["unchanged"] == [r["id"] for r in ROWS] and not report["updated"]


def test_bad_file_reports_every_line_and_imports_nothing(home: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_jsonl(ROWS[:1]) + "not json\n"
                   + _jsonl([{"id": "no-title", "answer": "A"}, {"id": "x", "title": "T", "answer": "A",
                                                                 "language": "de"}, ROWS[0]]),
                   encoding="utf-8")
    code, out, err = kb(capsys, "import", str(bad))
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[0] == "assist kb: error [invalid_import]: 4 problem(s); nothing was imported"
    assert any(line.startswith("  2: [invalid_json]") for line in lines)
    assert any(line.startswith("  3 title: [missing]") for line in lines)
    assert any(line.startswith("  4 language: ") for line in lines)
    assert any(line.startswith("  5 id: [duplicate_id] id 'lost-card' already appears at line 1") for line in lines)
    assert kb(capsys, "list", "--json")[1].strip() == "[]"


@pytest.mark.parametrize(("name", "code"), [("kb.xlsx", "unsupported_format"), ("missing.csv", "not_found")])
def test_unreadable_inputs_have_error_codes(home: Path, tmp_path: Path, name: str, code: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    if name.endswith(".xlsx"):
        (tmp_path / name).write_bytes(b"PK\x03\x04")
    status, _, err = kb(capsys, "import", str(tmp_path / name))
    assert status == 1 and err.startswith(f"assist kb: error [{code}]: ")


def test_unknown_id_and_delete(home: Path, kb_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _imported(capsys, kb_file)
    for command in ("show", "delete"):
        code, out, err = kb(capsys, command, "nope")
        assert code == 1 and out == ""
        assert err.strip() == "assist kb: error [article_not_found]: no article with id 'nope'"

    code, out, _ = kb(capsys, "delete", "address-change")
    assert code == 0 and out.strip() == "deleted address-change"
    assert kb(capsys, "show", "address-change")[0] == 1
    assert kb(capsys, "delete", "address-change")[0] == 1
    shown = json.loads(kb(capsys, "show", "address-change", "--history")[1])  # history outlives the article
    assert shown["article"] is None
    assert [h["action"] for h in shown["history"]] == ["upsert", "delete"]
    assert kb(capsys, "list")[1].splitlines()[-1] == "2 article(s)"


def test_export_round_trips(home: Path, kb_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _imported(capsys, kb_file)
    code, out, _ = kb(capsys, "export")
    assert code == 0
    exported = {a.id: a for a in parse_text(out, "jsonl")}
    assert set(exported) == {r["id"] for r in ROWS}
    assert exported["lost-card"].tags == ["紛失", "盗難"]
    assert {json.loads(line)["revision"] for line in out.splitlines()} == {1}

    target = tmp_path / "out.csv"
    code, out, err = kb(capsys, "export", "--format", "csv", "-o", str(target))
    assert code == 0 and out == "" and err.strip() == f"3 article(s) written to {target}"
    from_csv = {a.id: a for a in parse_text(target.read_text(encoding="utf-8"), "csv")}
    assert {i: (a.title, a.answer, a.tags) for i, a in from_csv.items()} == {
        i: (a.title, a.answer, a.tags) for i, a in exported.items()}


def test_search_and_reindex_with_fake_embedder(home: Path, kb_file: Path, fake_embedder: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _imported(capsys, kb_file)
    code, out, _ = kb(capsys, "search", "カードを紛失しました", "--json", "-k", "2")
    hits = json.loads(out)
    assert code == 0 and len(hits) == 2
    assert hits[0]["article_id"] == "lost-card" and hits[0]["title"] == ROWS[0]["title"]
    assert hits[0]["score"] >= hits[1]["score"] and "dense" in hits[0]["signals"]
    assert (home / "index" / "hash-test-r1.faiss").is_file()  # persisted under the model and KB revision

    code, out, _ = kb(capsys, "search", "plan", "--language", "en")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("1. plan-change-en")

    assert kb(capsys, "delete", "address-change")[0] == 0
    code, out, _ = kb(capsys, "reindex")
    assert code == 0 and out.strip() == "index rebuilt at KB revision 2"
    assert (home / "index" / "hash-test-r2.faiss").is_file()
    ids = {h["article_id"] for h in json.loads(kb(capsys, "search", "住所を変更", "--json")[1])}
    assert "address-change" not in ids and "lost-card" in ids


@pytest.mark.slow
def test_search_with_real_e5(home: Path, kb_file: Path, assist_home: Path, e5_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    home.mkdir(parents=True)
    (home / "models").symlink_to((assist_home / "models").resolve(), target_is_directory=True)
    _imported(capsys, kb_file)
    code, out, _ = kb(capsys, "search", "えっと財布ごと落としちゃって", "--json", "-k", "3")
    hits = json.loads(out)
    assert code == 0 and hits[0]["article_id"] == "lost-card"
    assert (home / "index" / "e5-small_use-multilingual-r1.faiss").is_file()  # the default fuses e5 and USE


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_import_progress_bar_only_on_a_terminal(home: Path, kb_file: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # The CLI waits a second before drawing; a tiny import would finish first, so draw at once here.
    monkeypatch.setattr(assist.kb_cli, "tqdm", lambda *a, **kw: tqdm(*a, **{**kw, "delay": 0}))
    assert kb(capsys, "import", str(kb_file), "--dry-run")[2] == ""  # captured stderr is not a TTY

    for flags, drawn in ((["--json"], False), ([], True)):
        terminal = _Terminal()
        with monkeypatch.context() as m:
            m.setattr("sys.stderr", terminal)
            assert main(["kb", "import", str(kb_file), *flags]) == 0
        assert ("importing" in terminal.getvalue()) is drawn
    capsys.readouterr()
