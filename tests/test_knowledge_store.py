"""KnowledgeStore: revisions, history, delete, atomic batches, concurrent writers."""

from __future__ import annotations

import threading

import pytest
from support.postgres import StoreTarget

from knowledge.article import Article, KnowledgeError, parse_article
from knowledge.store import KnowledgeStore


def art(id: str = "lost-card", **kw: object) -> Article:
    data = {"id": id, "title": "カードを紛失した場合", "answer": "紛失受付デスクへご連絡ください。", **kw}
    return parse_article(data)


def test_question_column_and_tags_split() -> None:
    a = parse_article({"id": "a1", "title": "T", "answer": "A", "question": "なくした|落とした", "tags": "紛失| 盗難 |"})
    assert a.questions == ["なくした", "落とした"]
    assert a.tags == ["紛失", "盗難"]
    assert a.language == "ja"


def test_invalid_article_lists_every_field() -> None:
    with pytest.raises(KnowledgeError) as err:
        parse_article({"id": "bad id!", "title": "", "language": "fr"}, line=7)
    fields = {i.field for i in err.value.fields}
    assert {"id", "title", "answer", "language"} <= fields
    assert all(i.line == 7 for i in err.value.fields)


def test_upsert_bumps_revision_only_on_change(store_target: StoreTarget) -> None:
    store = KnowledgeStore(store_target("kb.db"))
    assert store.upsert(art()).action == "created"
    assert store.revision == 1
    again = store.upsert(art())
    assert again.action == "unchanged" and again.article.revision == 1
    assert store.revision == 1
    changed = store.upsert(art(answer="新しい回答です。"))
    assert changed.action == "updated" and changed.article.revision == 2
    assert store.get("lost-card").answer == "新しい回答です。"
    assert store.revision == 2
    history = store.history("lost-card")
    assert [h.revision for h in history] == [1, 2]
    assert history[0].article.answer == "紛失受付デスクへご連絡ください。"


def test_input_revision_is_ignored(store_target: StoreTarget) -> None:
    store = KnowledgeStore(store_target("kb.db"))
    stored = store.upsert(parse_article({"id": "x", "title": "T", "answer": "A", "revision": 99})).article
    assert stored.revision == 1


def test_delete_keeps_history_and_bumps_kb_revision(store_target: StoreTarget) -> None:
    store = KnowledgeStore(store_target("kb.db"))
    store.upsert(art())
    assert store.delete("lost-card") is True
    assert store.get("lost-card") is None
    assert store.delete("lost-card") is False
    assert store.revision == 2
    assert [h.action for h in store.history("lost-card")] == ["upsert", "delete"]


def test_batch_is_all_or_nothing(store_target: StoreTarget) -> None:
    store = KnowledgeStore(store_target("kb.db"))

    def bad_batch():
        yield art("a1")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        store.upsert_many(bad_batch())
    assert store.count() == 0 and store.revision == 0


def test_reopen_and_filters(store_target: StoreTarget) -> None:
    path = store_target("kb.db")
    store = KnowledgeStore(path)
    store.upsert_many([art("a1", category="カード"), art("a2", language="en", category="Cards")])
    store.close()
    again = KnowledgeStore(path)
    assert [a.id for a in again.list(language="en")] == ["a2"]
    assert [a.id for a in again.list(category="カード")] == ["a1"]
    assert again.revision == 1


def test_concurrent_writers(store_target: StoreTarget) -> None:
    store = KnowledgeStore(store_target("kb.db"))
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                store.upsert(art(f"w{n}-{i}"))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.count() == 80 and store.revision == 80


def test_writers_on_separate_connections_take_turns(store_target: StoreTarget) -> None:
    """Two processes' stores (``assist kb import`` beside the service): every change gets its own revision."""
    stores = [KnowledgeStore(store_target("kb.db")) for _ in range(3)]
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                stores[n].upsert(art(f"s{n}-{i}"))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert stores[0].count() == 45 and stores[0].revision == 45
    assert sorted(h.kb_revision for n in range(3) for i in range(15) for h in stores[1].history(f"s{n}-{i}")) == \
        list(range(1, 46)), "no revision is skipped or given twice"
    for store in stores:
        store.close()
