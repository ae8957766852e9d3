"""Import/export: CSV, JSONL, Markdown folders; line-numbered errors; never half-imported."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from knowledge.article import KnowledgeError
from knowledge.io import apply_import, export, parse_text, read_path
from knowledge.store import KnowledgeStore

CSV = """id,title,question,answer,category,tags,language
lost-card,カードを紛失した場合,カードをなくしました,"紛失受付デスクへ
ご連絡ください。",カード,紛失|盗難,ja
plan-change,Changing your plan,,You can change your plan in the app.,Telecom,plan,en
"""


def test_csv_import_with_multiline_field() -> None:
    articles = parse_text(CSV, "csv")
    assert [a.id for a in articles] == ["lost-card", "plan-change"]
    assert articles[0].tags == ["紛失", "盗難"] and articles[0].questions == ["カードをなくしました"]
    assert "\n" in articles[0].answer
    assert articles[1].questions == [] and articles[1].language == "en"


def test_csv_errors_name_line_and_field_and_nothing_is_imported(tmp_path: Path) -> None:
    bad = CSV + "broken,,,no title,,,\nok-2,Title,,Answer,,,de\n"
    path = tmp_path / "kb.csv"
    path.write_text(bad, encoding="utf-8")
    store = KnowledgeStore(tmp_path / "kb.db")
    with pytest.raises(KnowledgeError) as err:
        apply_import(store, read_path(path))
    issues = {(i.line, i.field) for i in err.value.fields}
    assert (5, "title") in issues  # the multi-line row took lines 2-3
    assert (6, "language") in issues
    assert err.value.code == "invalid_import"
    assert store.count() == 0 and store.revision == 0


def test_jsonl_bad_json_and_duplicates() -> None:
    text = ('{"id": "a", "title": "T", "answer": "A"}\n'
            'not json\n'
            '{"id": "a", "title": "T2", "answer": "A2"}\n')
    with pytest.raises(KnowledgeError) as err:
        parse_text(text, "jsonl")
    codes = {(i.line, i.code) for i in err.value.fields}
    assert codes == {(2, "invalid_json"), (3, "duplicate_id")}


def test_csv_unknown_column_rejected() -> None:
    with pytest.raises(KnowledgeError) as err:
        parse_text("id,title,answer,colour\na,T,A,red\n", "csv")
    assert err.value.fields[0].code == "unknown_column" and err.value.fields[0].field == "colour"


def test_markdown_folder(tmp_path: Path) -> None:
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "lost-card.md").write_text(
        "---\ntitle: カードを紛失した場合\ntags: [紛失, 盗難]\nquestions:\n  - カードをなくしました\n---\n"
        "紛失受付デスク（0120-110-365）へご連絡ください。\n", encoding="utf-8")
    (tmp_path / "plan.md").write_text(
        "---\nid: plan-change\nlanguage: en\ncategory: Telecom\n---\n# Changing your plan\n\nUse the app.\n",
        encoding="utf-8")
    articles = {a.id: a for a in read_path(tmp_path)}
    assert articles["lost-card"].tags == ["紛失", "盗難"]
    assert articles["lost-card"].answer.startswith("紛失受付デスク")
    assert articles["plan-change"].title == "Changing your plan" and articles["plan-change"].answer == "Use the app."


def test_markdown_without_front_matter_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "x.md").write_text("# Title\nno front matter\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as err:
        read_path(tmp_path)
    assert err.value.fields[0].code == "missing_front_matter" and err.value.fields[0].file == "x.md"


def test_dry_run_changes_nothing_and_reports(tmp_path: Path) -> None:
    store = KnowledgeStore(tmp_path / "kb.db")
    articles = parse_text(CSV, "csv")
    report = apply_import(store, articles, dry_run=True)
    assert report.created == ["lost-card", "plan-change"] and store.count() == 0
    apply_import(store, articles)
    changed = parse_text(CSV.replace("You can change", "Change"), "csv")
    report = apply_import(store, changed, dry_run=True)
    assert report.updated == ["plan-change"] and report.unchanged == ["lost-card"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_round_trip(tmp_path: Path, fmt: str) -> None:
    store = KnowledgeStore(tmp_path / "kb.db")
    apply_import(store, parse_text(CSV, "csv"))
    out = io.StringIO()
    assert export(store.all(), out, fmt) == 2
    again = parse_text(out.getvalue(), fmt)
    assert [a.content_key() for a in again] == [a.content_key() for a in store.all()]
    report = apply_import(store, again)
    assert report.unchanged == ["lost-card", "plan-change"] and store.revision == 1


def test_dev_kb_is_valid_and_has_lost_card() -> None:
    articles = read_path(Path(__file__).parents[1] / "eval" / "data" / "kb.jsonl")
    ids = {a.id for a in articles}
    assert len(articles) >= 60 and "lost-card" in ids
    assert {a.language for a in articles} == {"ja", "en"}
