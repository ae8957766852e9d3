"""Guidance checklists: the shipped file, detection on real agent turns (Japanese and English), the validation
errors, the live call's `checklist` events and notes, and the widget's view in Chromium."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from support.live import ARTICLES, FakeAsr, FakeRetrieval, FakeSummarizer, fake_draft, fake_mask, silence

from assist.checklist import ChecklistError, ChecklistState, adherence, load_checklists, parse_checklists
from assist.events import ChecklistEvent, parse_event
from assist.replay import replay_call
from assist.stages import CallStages
from retrieval.base import Suggestion

DATA = Path(__file__).resolve().parent.parent / "eval" / "data"


def _call(call_id: str) -> dict:
    for path in (DATA / "calls.jsonl", DATA / "calls_v2.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            call = json.loads(line)
            if call["id"] == call_id:
                return call
    raise KeyError(call_id)


def _run(call_id: str, category: str | None) -> dict[str, int | None]:
    """Feed a dev call's turns in order; the category joins after its first customer turn, as a card would."""
    state = ChecklistState(load_checklists())
    for i, turn in enumerate(_call(call_id)["turns"]):
        if turn["speaker"] == "agent":
            state.observe_agent(turn["text"], i)
        else:
            state.observe_customer()
            if category:
                state.add_category(category)
    return {m.id: m.turn if m.done else None for m in state.marks()}


def test_shipped_file_covers_every_category_of_the_dev_kb() -> None:
    checklists = load_checklists()
    assert [s.id for s in checklists.default] == ["identity", "read-back", "anything-else", "closing"]
    categories = {json.loads(line).get("category") for line in (DATA / "kb.jsonl").read_text("utf-8").splitlines()}
    missing = {c for c in categories if not checklists.for_category(c)} - {"共通", "General"}
    assert not missing, f"KB categories without checklist items: {missing}"
    assert checklists.for_category("cards") == checklists.for_category("カード")  # names are case-insensitive


@pytest.mark.parametrize(("call_id", "category", "expected"), [
    # ご本人確認…お名前と生年月日を (2); 再発行手数料 (10); ほかにご不明な点は (14); no お電話ありがとうございました
    ("ja-lost-card", "カード", {"identity": 2, "read-back": None, "anything-else": 14, "closing": None,
                                "card-terms": 10}),
    # 8,980円でございますね is a read-back (6); 着払い (8); お電話ありがとうございました (14)
    ("ja-return", "通販", {"identity": 2, "read-back": 6, "anything-else": None, "closing": 14, "shop-terms": 8}),
    # 口座振替の変更でございますね restates the request (2); ご提出が必要 … 依頼書 (4); ほかにご用件は (12)
    ("ja-account-transfer", "銀行", {"identity": 2, "read-back": 2, "anything-else": 12, "closing": None,
                                     "bank-terms": 4}),
    # the opening 料金センター is no explanation of charges: 燃料費調整額 (6) is
    ("ja-utility-bill", "電気・ガス", {"identity": 2, "read-back": None, "anything-else": None, "closing": None,
                                      "utility-terms": 6}),
    # "Thank you for calling …" opens the call: not a closing; "Is there anything else" (14); fee waived (10)
    ("en-lost-card", "Cards", {"identity": 2, "read-back": None, "anything-else": 14, "closing": None,
                               "card-terms": 10}),
    # "I see the Turbo blender for $89.99" reads the order back (4); refund/return label (6); "Have a great day"
    ("en-return", "E-commerce", {"identity": 2, "read-back": 4, "anything-else": None, "closing": 12,
                                 "shop-terms": 6}),
    # "Your name and date of birth, please?" (4); "I see two charges of $86.40" (6); no category card
    ("v2t-en-double-charge-renewal", None, {"identity": 4, "read-back": 6, "anything-else": None, "closing": None}),
])
def test_dev_calls_checklist_states(call_id: str, category: str | None, expected: dict[str, int | None]) -> None:
    assert _run(call_id, category) == expected


def test_opening_thanks_is_not_a_closing_but_the_same_words_later_are() -> None:
    state = ChecklistState(load_checklists())
    assert not state.observe_agent("Thank you for calling Mirai Card, this is Kevin.", 0)
    state.observe_customer()
    assert state.observe_agent("Thanks for calling, have a good day.", 2)
    marks = {m.id: m for m in state.marks()}
    assert marks["closing"].done and marks["closing"].turn == 2
    ja = ChecklistState(load_checklists())
    ja.observe_customer()
    ja.observe_agent("お電話ありがとうございます。さくら銀行でございます。", 1)  # present tense: a greeting
    assert not {m.id: m for m in ja.marks()}["closing"].done
    assert ja.observe_agent("お電話ありがとうございました。失礼いたします。", 9)


def test_a_category_added_later_finds_what_the_agent_already_said() -> None:
    state = ChecklistState(load_checklists())
    state.observe_customer()
    assert not state.observe_agent("月額3,278円になります。変更は来月1日から適用されます。", 3)
    assert state.add_category("通信") and state.categories == ["通信"]
    assert not state.add_category("Telecom"), "the same items under the English name add nothing"
    assert not state.add_category("共通") and not state.add_category(None)
    marks = {m.id: m for m in state.marks()}
    assert marks["telecom-terms"].done and marks["telecom-terms"].turn == 3
    assert marks["telecom-terms"].category == "通信" and marks["telecom-terms"].label.ja.startswith("重要事項")
    assert adherence(state.marks()) == 0.2  # 1 of 5


BAD = """
[[default]]
id = "identity"
label = { ja = "本人確認", en = "Identity" }
patterns = ["(unclosed", ".*"]

[[default]]
id = "identity"
label = { ja = "重複" }
patterns = []
colour = "red"

[[category]]
names = ["カード"]
[[category.items]]
id = "Bad Id"
label = { ja = "x", en = "x" }
patterns = ["手数料"]
"""


def test_invalid_file_reports_every_problem_with_its_field() -> None:
    with pytest.raises(ChecklistError) as err:
        parse_checklists(BAD, source="bad.toml")
    assert err.value.code == "checklist_invalid"
    got = {(f.code, f.field) for f in err.value.fields}
    assert ("missing", "default.1.label.en") in got
    assert ("too_short", "default.1.patterns") in got
    assert ("extra_forbidden", "default.1.colour") in got
    assert ("string_pattern_mismatch", "category.0.items.0.id") in got
    assert all(f.file == "bad.toml" for f in err.value.fields)
    # the shape is right but the contents are not: every problem at once
    semantic = BAD.replace('label = { ja = "重複" }\npatterns = []\ncolour = "red"',
                           'label = { ja = "重複", en = "dup" }\npatterns = ["x"]').replace("Bad Id", "card-terms")
    with pytest.raises(ChecklistError) as err:
        parse_checklists(semantic + '\n[[category]]\nnames = ["cards"]\n[[category.items]]\nid = "c2"\n'
                         'label = { ja = "x", en = "x" }\npatterns = ["x"]\n', source="bad.toml")
    got = {(f.code, f.field) for f in err.value.fields}
    assert got == {("bad_pattern", "default.0.patterns.0"), ("empty_match", "default.0.patterns.1"),
                   ("duplicate_id", "default.1.id")}, got
    with pytest.raises(ChecklistError) as err:
        parse_checklists(semantic + '\n[[category]]\nnames = ["カード"]\n[[category.items]]\nid = "c3"\n'
                         'label = { ja = "x", en = "x" }\npatterns = ["y"]\n', source="bad.toml")
    assert ("duplicate_category", "category.1.names.0") in {(f.code, f.field) for f in err.value.fields}


def test_unreadable_file_is_a_coded_error(tmp_path: Path) -> None:
    with pytest.raises(ChecklistError) as err:
        parse_checklists("[[default]\nid=", source="x.toml")
    assert err.value.code == "checklist_unreadable" and err.value.fields[0].code == "toml_syntax"
    assert err.value.fields[0].line is not None
    with pytest.raises(ChecklistError) as err:
        load_checklists(tmp_path / "missing.toml")
    assert err.value.code == "checklist_unreadable"


class _CardsKb(FakeRetrieval):
    """Every card is of the カード category."""

    def suggest(self, latest: str, previous: str | None = None, *, language: str | None = None,
                k: int | None = None) -> Suggestion:
        found = super().suggest(latest, previous, language=language, k=k)
        return replace(found, hits=[replace(h, category="カード") for h in found.hits])


CUSTOMER = ["カードをなくしました", "はい", "再発行はできますか", "大丈夫です。ありがとうございました。"]
AGENT = ["それはご心配ですね。ご本人確認のため、お名前と生年月日をお願いいたします。", "確認が取れました。カードを停止いたしました。",
         "再発行手数料として1,100円を次回のご請求に含めさせていただきます。", "お電話ありがとうございました。"]


async def test_live_call_publishes_checklist_and_keeps_it_in_notes_and_store(live) -> None:
    stages = CallStages(asr=FakeAsr({"customer": CUSTOMER, "agent": AGENT}),
                        retrieval=_CardsKb({"カードをなくしました": ["lost-card", "reissue"],
                                            "再発行はできますか": ["reissue", "fees"]}),
                        summarizer=FakeSummarizer(), draft=fake_draft, mask=fake_mask)
    assert set(ARTICLES) >= {"lost-card", "reissue", "fees"}
    srv = live(stages=stages)
    events = await replay_call(srv.url, "call-ck", {"customer": silence(2.2), "agent": silence(2.2)}, stereo=True,
                               realtime=False, timeout_s=30)
    checklists = [parse_event(e) for e in events if e["type"] == "checklist"]
    assert checklists and all(isinstance(e, ChecklistEvent) for e in checklists)
    assert [e["type"] for e in events][-2:] == ["call_ended", "summary"], "no checklist event after the call ended"
    final = {m.id: (m.done, m.turn) for m in checklists[-1].items}
    # finals alternate customer/agent on the stereo stream: agent turns are 1, 3, 5, 7
    assert final == {"identity": (True, 1), "read-back": (False, None), "anything-else": (False, None),
                     "closing": (True, 7), "card-terms": (True, 5)}, final
    assert checklists[-1].categories == ["カード"]
    notes = events[-1]["notes"]
    assert [(m["id"], m["done"], m["turn"]) for m in notes["checklist"]] == [
        (m.id, m.done, m.turn) for m in checklists[-1].items]
    qa = srv.services.call_store.qa("call-ck")
    assert qa is not None and qa["checklist_done"] == 3 and qa["checklist_total"] == 5
    assert qa["checklist_adherence"] == 0.6 and qa["checklist_missing"] == ["read-back", "anything-else"]


RENDER = """
const done = arguments[arguments.length - 1];
Promise.all([import("/js/checklist.js"), import("/js/i18n.js")]).then(([{ ChecklistView }, i18n]) => {
  const box = document.createElement("div"), list = document.createElement("ol"), count = document.createElement("span");
  document.body.append(box);
  const lit = [];
  const view = new ChecklistView(box, list, count, (turns) => lit.push(turns));
  const read = () => [box.hidden, count.textContent,
    [...list.children].map((li) => [li.dataset.id, li.dataset.done, li.querySelector(".check-label").textContent,
                                    li.querySelector(".check-state").textContent])];
  const empty = (view.reset(), read());
  view.show([{id: "identity", label: {ja: "本人確認", en: "Identity verification"}, done: true, turn: 1},
             {id: "closing", label: {ja: "クロージング（お礼）", en: "Closing thanks"}, done: false, turn: null}]);
  const ja = read();
  list.children[0].dispatchEvent(new Event("mouseenter"));
  i18n.setLanguage("en");
  view.relabel();
  done({empty, ja, en: read(), lit});
}).catch((e) => done(String(e)));
"""


@pytest.mark.slow  # a real browser
def test_widget_checklist_view_in_chromium(tmp_path: Path) -> None:
    from browser.driver import chromium, console_errors, require_chromium
    from browser.fake_call import demo_stages
    from support.live import LiveServer

    from assist.services import Services
    from config import Settings

    require_chromium()
    settings = Settings(home=tmp_path, server={"preload_models": False}, auth={"mode": "open"})
    with LiveServer(settings, Services(settings, stages=demo_stages())) as srv, chromium() as driver:
        driver.get(f"{srv.http}/")
        got = driver.execute_async_script(RENDER)
        assert isinstance(got, dict), got
        assert got["empty"] == [True, "0 / 0 完了", []]
        assert got["ja"] == [False, "1 / 2 完了", [["identity", "true", "本人確認", "済（#1）"],
                                                  ["closing", "false", "クロージング（お礼）", "未実施"]]]
        assert got["en"][2] == [["identity", "true", "Identity verification", "done (#1)"],
                                ["closing", "false", "Closing thanks", "missing"]]
        assert got["lit"] == [[1]]
        assert driver.find_element("id", "checklist").get_attribute("hidden") is not None  # no call: hidden
        assert not console_errors(driver)
