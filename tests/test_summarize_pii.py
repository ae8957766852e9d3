"""PII masking corpus (JA + EN): every secret disappears; ordinary numbers and the KB stay intact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from summarize.pii import find_pii, luhn_ok, mask_pii, mynumber_ok

KB = Path(__file__).parents[1] / "eval" / "data" / "kb.jsonl"

# (language, text, the secret that must disappear, the kind found)
POSITIVES: list[tuple[str, str, str, str]] = [
    # card numbers (Luhn-valid), any spelling
    ("ja", "カード番号は4111 1111 1111 1111です", "4111 1111 1111 1111", "card"),
    ("ja", "番号は4111-1111-1111-1111になります", "4111-1111-1111-1111", "card"),
    ("ja", "4111111111111111です", "4111111111111111", "card"),
    ("ja", "カード番号は４１１１－１１１１－１１１１－１１１１です", "４１１１－１１１１－１１１１－１１１１", "card"),
    ("ja", "えっと、四一一一 一一一一 一一一一 一一一一です", "四一一一 一一一一 一一一一 一一一一", "card"),
    ("ja", "５５００ ０００００ ００００ ０００４", "５５００ ０００００ ００００ ０００４", "card"),
    ("ja", "カードは3782 822463 10005のアメックスです", "3782 822463 10005", "card"),
    ("ja", "カード番号は4980 1234 5678 9014で登録してます", "4980 1234 5678 9014", "card"),
    ("en", "my card number is 4111 1111 1111 1111", "4111 1111 1111 1111", "card"),
    ("en", "it's 5500-0000-0000-0004", "5500-0000-0000-0004", "card"),
    ("en", "the Amex is 378282246310005", "378282246310005", "card"),
    ("en", "card 6011 1111 1111 1117 please", "6011 1111 1111 1117", "card"),
    # phone numbers
    ("ja", "電話番号は090-1234-5678です", "090-1234-5678", "phone"),
    ("ja", "携帯は08012345678です", "08012345678", "phone"),
    ("ja", "自宅は03-1234-5678です", "03-1234-5678", "phone"),
    ("ja", "０９０－８７６５－４３２１にお願いします", "０９０－８７６５－４３２１", "phone"),
    ("ja", "連絡先は+81 90 1234 5678です", "+81 90 1234 5678", "phone"),
    ("ja", "+81-3-1234-5678までお願いします", "+81-3-1234-5678", "phone"),
    ("ja", "045-123-4567に折り返してください", "045-123-4567", "phone"),
    ("ja", "会社は06（1234）5678です", "06（1234）5678", "phone"),
    ("ja", "〇九〇 一二三四 五六七八です", "〇九〇 一二三四 五六七八", "phone"),
    ("ja", "070-9876-5432です", "070-9876-5432", "phone"),
    ("en", "call me at (415) 555-0199", "(415) 555-0199", "phone"),
    ("en", "my number is 415-555-0199", "415-555-0199", "phone"),
    ("en", "reach me on +1 415 555 0199", "+1 415 555 0199", "phone"),
    ("en", "it's 415.555.0199", "415.555.0199", "phone"),
    # e-mail
    ("ja", "メールはtaro.yamada@example.co.jpです", "taro.yamada@example.co.jp", "email"),
    ("ja", "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐです", "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ", "email"),
    ("en", "email is john.doe+shop@gmail.com", "john.doe+shop@gmail.com", "email"),
    ("en", "it's john dot doe at gmail dot com", "john dot doe at gmail dot com", "email"),
    ("en", "send it to sarah_lee@example.org thanks", "sarah_lee@example.org", "email"),
    # birth dates
    ("ja", "生年月日は1985年4月12日です", "1985年4月12日", "dob"),
    ("ja", "昭和60年4月12日生まれです", "昭和60年4月12日", "dob"),
    ("ja", "平成2年7月3日です", "平成2年7月3日", "dob"),
    ("ja", "一九八五年四月十二日です", "一九八五年四月十二日", "dob"),
    ("ja", "誕生日は4月12日です", "4月12日", "dob"),
    ("ja", "１９９２年１１月２０日生まれです", "１９９２年１１月２０日", "dob"),
    ("ja", "林健太、昭和58年2月14日です", "昭和58年2月14日", "dob"),
    ("en", "I was born on April 12, 1985", "April 12, 1985", "dob"),
    ("en", "date of birth 04/12/1985", "04/12/1985", "dob"),
    ("en", "my birthday is March 3rd", "March 3rd", "dob"),
    ("en", "DOB is 12 March 1979", "12 March 1979", "dob"),
    ("en", "born 1990-07-03", "1990-07-03", "dob"),
    # マイナンバー
    ("ja", "マイナンバーは123456789018です", "123456789018", "mynumber"),
    ("ja", "個人番号は1234 5678 9018です", "1234 5678 9018", "mynumber"),
    ("ja", "マイナンバーは2345 6789 0123です", "2345 6789 0123", "mynumber"),
    ("en", "my number card says 1234-5678-9018", "1234-5678-9018", "mynumber"),
    # addresses
    ("ja", "東京都新宿区西新宿2丁目8番1号に住んでます", "東京都新宿区西新宿2丁目8番1号", "address"),
    ("ja", "〒160-0023 東京都新宿区西新宿2-8-1です", "〒160-0023 東京都新宿区西新宿2-8-1", "address"),
    ("ja", "新しい住所は神奈川県横浜市港北区日吉3丁目5番12号です", "神奈川県横浜市港北区日吉3丁目5番12号", "address"),
    ("ja", "大阪府大阪市北区梅田1丁目2番3号です", "大阪府大阪市北区梅田1丁目2番3号", "address"),
    ("ja", "郵便番号は530-0001です", "530-0001", "address"),
    ("en", "I live at 1234 Elm Street, Apt 5, Springfield", "1234 Elm Street", "address"),
    ("en", "ship it to 77 Sunset Boulevard", "77 Sunset Boulevard", "address"),
    ("en", "the new place is 5 Oak Lane", "5 Oak Lane", "address"),
]

NEGATIVES: list[tuple[str, str]] = [
    ("ja", "年会費は1,100円です"),
    ("ja", "三万二千円のご請求がございます"),
    ("ja", "4月12日にお届けいたします"),
    ("ja", "2026年4月12日から適用されます"),
    ("ja", "お問い合わせは0120-123-456までお願いします"),
    ("ja", "ナビダイヤル0570-000-123へどうぞ"),
    ("ja", "ご注文番号はA-20481です"),
    ("ja", "1週間ほどでお届けします"),
    ("ja", "暗証番号は4桁です"),
    ("ja", "お問い合わせ番号は4980123456789014です"),
    ("en", "the refund of $89.99 will arrive by April 12"),
    ("en", "call 1-800-555-0100 any time"),
    ("en", "it takes 5 to 7 business days"),
    ("en", "your order H-77120 shipped on May 14"),
]


@pytest.mark.parametrize(("language", "text", "secret", "kind"), POSITIVES)
def test_secret_is_masked(language: str, text: str, secret: str, kind: str) -> None:
    masked = mask_pii(text, language)
    assert secret not in masked
    assert "[" in masked
    spans = find_pii(text, language)
    assert any(k == kind and text[a:b] == secret or secret in text[a:b] for a, b, k in spans)


def test_corpus_size_and_recall() -> None:
    assert len(POSITIVES) >= 50
    assert {lang for lang, *_ in POSITIVES} == {"ja", "en"}
    recall = sum(secret not in mask_pii(text, lang) for lang, text, secret, _ in POSITIVES) / len(POSITIVES)
    assert recall == 1.0


@pytest.mark.parametrize(("language", "text"), NEGATIVES)
def test_ordinary_numbers_stay(language: str, text: str) -> None:
    assert mask_pii(text, language) == text


def test_rest_of_text_is_kept() -> None:
    assert mask_pii("電話は090-1234-5678、メールはa@b.jpです。", "ja") == "電話は[電話番号]、メールは[メール]です。"
    assert mask_pii("call (415) 555-0199 now", "en") == "call [PHONE] now"


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert mynumber_ok("123456789018") and not mynumber_ok("123456789012")


def test_knowledge_base_is_not_over_masked() -> None:
    if not KB.is_file():
        pytest.skip("eval/data/kb.jsonl not present")
    articles = [json.loads(line) for line in KB.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert articles
    for a in articles:
        for field in ("title", "question", "answer"):
            text = a.get(field) or ""
            assert mask_pii(text, a.get("language", "ja")) == text, (a["id"], field)
