"""The fifth round of wording families (assist/alerts/families.py, written from ``eval/data/alert_phrases.jsonl``'s
dev rows): other members of each new family fire, their calm lookalikes stay silent, and ``eval alert-phrases`` scores
the list as it says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.alerts import RULES, text_alerts

from eval import alert_phrases


def said(text: str, language: str) -> list[tuple[str, str | None]]:
    return [(rule, category) for rule, category, _ in text_alerts([("customer", text)], language)]


# Written for this test, not the dev rows' sentences: other members of each new family.
@pytest.mark.parametrize(("text", "language", "rule", "category"), [
    ("客をなめとんのか", "ja", "kasuhara-abuse", "verbal_abuse"),
    ("You pathetic sack of crap", "en", "kasuhara-abuse", "verbal_abuse"),
    ("Pipe down and let me finish", "en", "kasuhara-abuse", "verbal_abuse"),
    ("こんな店、潰したるからな", "ja", "kasuhara-threat", "threat"),
    ("I'll make your life a living hell", "en", "kasuhara-threat", "threat"),
    ("お前、調子に乗ってんじゃねえぞ", "ja", "kasuhara-abuse", "intimidation"),
    ("You have no idea who you're dealing with", "en", "kasuhara-abuse", "intimidation"),
    ("You are far too dim for a job like this", "en", "kasuhara-abuse", "personal_attack"),
    ("Your mother would be ashamed of how you talk to people", "en", "kasuhara-abuse", "personal_attack"),
    ("返金されない限り、電話口から離れませんよ", "ja", "kasuhara-demand", "long_restraint"),
    ("毎日でも電話しますからね、覚悟してください", "ja", "kasuhara-demand", "long_restraint"),
    ("あなたが認めるまで、この件は終わりませんから", "ja", "kasuhara-demand", "long_restraint"),
    ("I'm going to keep ringing every morning until it's sorted", "en", "kasuhara-demand", "long_restraint"),
    ("Don't you dare hang up on me... don't try putting the phone down", "en", "kasuhara-demand", "long_restraint"),
    ("始末書を書いて持ってきなさい", "ja", "kasuhara-demand", "dogeza_demand"),
    ("Come round to my place with a written apology", "en", "kasuhara-demand", "dogeza_demand"),
    ("掲示板に今日のことを書き込ませてもらいます", "ja", "kasuhara-threat", "sns_exposure"),
    ("あなたの対応、実名で晒しますから", "ja", "kasuhara-threat", "sns_exposure"),
    ("I'm posting the recording on Trustpilot tonight", "en", "kasuhara-threat", "sns_exposure"),
    ("Once this goes viral you'll be sorry", "en", "kasuhara-threat", "sns_exposure"),
    ("仕事を休んだ分、ちゃんと弁償しなさい", "ja", "kasuhara-demand", "excessive_demand"),
    ("Pay me triple for this mess", "en", "kasuhara-demand", "excessive_demand"),
    ("I deserve six months free after this", "en", "kasuhara-demand", "excessive_demand"),
])
def test_new_family_fires_on_wording_it_was_not_written_from(text: str, language: str, rule: str,
                                                               category: str) -> None:
    assert (rule, category) in said(text, language)


@pytest.mark.parametrize(("text", "language", "rule"), [
    ("権限のある立場の方に代わってください", "ja", "manager-request"),
    ("上の人につないでよ", "ja", "manager-request"),
    ("支店長さん呼んでちょうだい", "ja", "manager-request"),
    ("責任者の直通番号を教えて", "ja", "manager-request"),
    ("Please bump my complaint up the ladder", "en", "manager-request"),
    ("Connect me to somebody with more authority", "en", "manager-request"),
    ("Could I get a floor supervisor please", "en", "manager-request"),
    ("I'd like to have a word with your supervisor", "en", "manager-request"),
    ("御社とはもう取引しません", "ja", "cancellation-threat"),
    ("保険の契約、全部打ち切ってもらえます？", "ja", "cancellation-threat"),
    ("よその銀行のほうが金利がいいので、そっちに移ります", "ja", "cancellation-threat"),
])
def test_new_manager_and_cancellation_shapes(text: str, language: str, rule: str) -> None:
    assert (rule, None) in said(text, language)


# Calm sentences sharing the new families' words.
@pytest.mark.parametrize(("text", "language"), [
    ("画面の上の方に出てきた通知が消えません", "ja"), ("上司に代わって、私が書類を受け取りに伺いました", "ja"),
    ("課長さんに代わってもらったら、すぐ話が通じました", "ja"), ("責任者の方からご連絡いただけるなら待ちます", "ja"),
    ("何回でも使えるんですか", "ja"), ("粘り強く説明してくださって助かりました", "ja"), ("このお店とは長いお付き合いなんです", "ja"),
    ("ポイント制度が打ち切りになると聞いたんですが", "ja"), ("他の銀行からこっちに給料口座を移したいんです", "ja"),
    ("調子に乗って注文しすぎました", "ja"), ("以前、詫び状をいただいたことがあります", "ja"), ("交通費は払ってもらえるんでしょうか", "ja"),
    ("I'm putting the phone on speaker, one second", "en"), ("Everyone at home will know how to use it now", "en"),
    ("My cousin's video went viral once", "en"), ("Could you transfer me to someone in the claims team?", "en"),
    ("I keep calling but nobody picks up", "en"), ("I'm not losing my patience, don't worry", "en"),
])
def test_new_family_calm_lookalikes_do_not_fire(text: str, language: str) -> None:
    assert said(text, language) == []


def test_alert_phrases_eval_scores_the_dev_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert alert_phrases.main(["--split", "dev", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["expected"] >= 60 and figures["calm"] >= 40
    assert figures["recall"] >= 0.95, figures
    assert figures["false"] <= 2, figures  # 責任者の方 and "talk with the manager" as bare mentions: docs/QUALITY.md


def test_alert_phrase_rows_are_well_formed() -> None:
    rows = [r for split in ("dev", "test") for r in alert_phrases.read_rows(alert_phrases.DATA, split)]
    assert {r.split for r in rows} == {"dev", "test"}
    known = {r.id for r in RULES.rules}
    assert all(r.rule is None or r.rule in known for r in rows)
    assert all(r.language in ("ja", "en") and r.text.strip() for r in rows)
    texts = [r.text for r in rows]
    assert len(texts) == len(set(texts)), "a row in both splits would leak"
    assert Path(alert_phrases.DATA).stat().st_size < 50_000


def test_a_bad_row_is_named_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"split": "dev", "language": "ja", "rule": null, "category": null, "text": "はい"}\n'
                    '{"split": "dev", "language": "ja", "text": "ok", "speaker": "customer"}\n', encoding="utf-8")
    assert alert_phrases.main(["--split", "dev", "--rows", str(rows)]) == 2
    assert f"{rows}:2: bad_phrase_row" in capsys.readouterr().err
