"""Paraphrase matching for the abuse categories: the embedder's similarity to example sentences.

A lexicon misses what is said in other words (「このひどい対応、みんなに知らせてやるからな」 threatens exposure with no
SNS word in it). Each category has example sentences in both languages, and so do calm customer turns
(requests, complaints, a cancellation, a manager request: unhappy is not abusive). A final's score for a category
is its mean cosine to the category's ``TOP_K`` nearest examples minus the same mean over the calm ones:
general-purpose embedders put every Japanese sentence near every other, and only the margin separates the two (on
the first dev list the raw cosine recalled 3 of 20 paraphrases without a false alert, the margin 16). A mean of
the nearest three, not the single nearest, keeps one lookalike example (or one calm sentence that happens to share
words) from deciding alone: calibrated on the dev calls as heard, it recalls 14 of 36 dev paraphrases, the nearest
one 7. Scores live on each embedder's own scale, so the
threshold is calibrated per embedder on a dev list (``python -m eval.alerts_paraphrase --split dev``,
docs/ALERTS.md). An embedder without a calibrated value matches paraphrases only for rules that set ``similarity``.
Finals shorter than ``MIN_CHARS`` are not scored: short ones are noise to an embedder, and short abuse is what the
lexicon catches.

Embedding runs in the caller's executor, never on the event loop; the examples are embedded once, lazily.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

import numpy as np

from assist.alerts.engine import ParaphraseScore
from assist.alerts.lexicon import AbuseCategory, compact_form
from retrieval.base import Embedder

log = logging.getLogger(__name__)

# From `python -m eval.alerts_paraphrase --split dev` (eval/data/alerts_paraphrase.jsonl); see docs/ALERTS.md.
# e5-small+use-multilingual, TOP_K 3: highest calm dev score + 0.02, rounded up, where the calm list holds the dev
# calls as ASR heard them (fragments such as 「えっと、来月海外旅行に行くので、」 score far above script text). With the
# fourth pass's examples (chosen on dev: written first, then the three that raised the calm maximum and the six calm
# near-misses that cost dev recall left out): 0.06, dev recall 39/68 with no false alert on 632 calm sentences (the
# former examples: 0.055, 20/68).
CALIBRATED_SIMILARITY: dict[str, float] = {"e5-small+use-multilingual": 0.06}
TOP_K = 3  # examples per side a score averages over (chosen on dev among 1-3)

EXAMPLES: dict[AbuseCategory, tuple[str, ...]] = {
    "verbal_abuse": (
        "お前は本当にどうしようもない馬鹿だな", "ふざけたこと言ってんじゃねえよ", "黙って言うことを聞け",
        "You are a complete idiot", "Shut your mouth and listen to me",
        "耳ついてんのか、さっきから同じこと何べんも言わせんな", "Are you deaf, you numpty?",
    ),
    "threat": (
        "今からそっちに行ってどうなるか分からせてやる", "お前の家族がどうなっても知らないぞ", "覚悟しておけよ、ただでは済まさない",
        "I will come down there and hurt you", "Something bad is going to happen to you",
        "出るところに出て、この会社を訴えさせてもらいます", "My lawyer will make sure you pay for this",
        "こっちにも考えがあるからな、覚えときや",
        "You'll find out soon enough what happens to people who mess me around",
        "I'd watch myself if I were you, I know where your office is",
    ),
    "intimidation": (
        "こっちは客だぞ、分かってるのか", "俺を怒らせたらどうなるか分かってるんだろうな", "さっさとしろ、いつまで待たせる気だ",
        "Do you have any idea who you are dealing with", "You had better do what I say right now",
        "客に向かってなんだその口の利き方は", "Don't you dare talk back to me",
        "いつまでも優しく言ってると思ったら大間違いだぞ", "こっちが誰だか分かって口きいてんのか",
        "I'm not going to ask you nicely again", "Be very careful how you answer me",
    ),
    "personal_attack": (
        "あなたみたいな人がよくこの仕事をしていられますね", "こんな簡単なこともできないなんて人としてどうかしてる",
        "お前なんか生きている意味がない",
        "People like you should not be allowed to work here", "You are a failure as a human being",
        "A child could do your job better than you",
        "あんたみたいなのが窓口にいるから誰も得しないんだよ", "まともな教育を受けたとは思えない対応ですね",
        "Honestly, were you hired off the street?", "I've never spoken to anyone this incompetent in my life",
    ),
    "long_restraint": (
        "こっちが納得するまで絶対に電話は切らせないからな", "何時間かかろうが今ここで答えを出してもらう",
        "I am staying on this line until you give me what I want", "We will be here all night until you fix it",
        "ちゃんとした返事を聞くまでは、この電話を終わらせるつもりはありません", "今日は何時まででも付き合ってもらうからね",
        "We're not hanging up until you give me a straight answer",
        "I've cleared my whole afternoon for this, so you're stuck with me",
    ),
    "dogeza_demand": (
        "今すぐうちまで来て頭を下げて謝れ", "床に手をついて謝罪しろ", "責任者が家まで来て謝罪するのが筋だろう",
        "Come to my house and apologize on your knees", "I want you to beg me for forgiveness",
        "社長が直接うちに来て謝るのが当然でしょう",
        "上の人が菓子折り持って、家まで頭を下げに来るのが礼儀でしょう", "地べたに頭をつけて謝るぐらいの誠意を見せなさいよ",
        "I want a formal apology in writing, signed by your director",
        "Somebody senior needs to come to my house and apologize properly",
    ),
    "sns_exposure": (
        "この対応を全部ネットに書き込んでやるからな", "お前の名前をSNSで晒してやる", "この通話を録音して動画サイトに上げるぞ",
        "I am going to post your name all over social media", "Everyone online will hear about how you treated me",
        "このやり取りを録音して動画で公開しますね", "I'll tell all my followers exactly what happened here",
        "今日のこと、地域の掲示板とグループLINEに全部流しておきますね", "私のチャンネルで今日の電話を紹介させてもらいます",
        "I'm recording this and it's going up on my channel tonight",
        "Every one of my viewers is going to hear how you spoke to me",
    ),
    "excessive_demand": (
        "迷惑料としてお金を払ってもらわないと気が済まない", "誠意として商品を全部タダにしろ",
        "You owe me money for all the stress you caused", "Pay me extra for the trouble or else",
        "手間をかけさせたんだから、迷惑料として一万円は払ってもらわないと", "交換だけじゃ足りない、お詫びの品も一緒に送ってくるのが当然でしょ",
        "I expect compensation for my time on top of the refund",
        "Waive every fee for the next two years and we'll call it even",
    ),
}


# Calm customer turns, both languages: requests, unhappy complaints, identity answers, courtesy. Unhappy is not
# abusive: the margin over these is what keeps a frustrated customer from looking like a harasser.
CALM_EXAMPLES: tuple[str, ...] = (
    "料金の支払い方法を変更したいんですが", "先週注文した商品がまだ届いていません", "パスワードを忘れてしまいました",
    "請求書の金額が違う気がします", "引っ越しをするので住所を変えたいです", "解約の手続きについて教えてください",
    "上の者と代わってもらえますか", "もう何回も電話しているんですけど、まだ解決しません", "正直、ちょっとがっかりしています",
    "電話がなかなかつながらなくて困りました", "それは困ります、明日必要なんです", "わかりました、ありがとうございます",
    "名前は田中一郎、生年月日は1980年5月3日です", "ポイントの有効期限はいつまでですか", "対応が遅いと思います",
    "説明がよく分からないのですが", "壊れていたので返品して返金してほしいです", "割引やクーポンは使えますか",
    "もしもし、ちょっとお聞きしたいことがあるんですが", "じゃあ、それで検討してみます", "家族と相談してからまた連絡します",
    "今日中に対応してもらえると助かります", "前回の担当の方の説明と違うんですけど", "他の会社のほうが安いみたいなんですよね",
    "I'd like to update my payment method", "My order still hasn't arrived", "I forgot my password",
    "I think my bill is wrong", "I'm moving and need to change my address", "How do I cancel my plan",
    "Could I talk to your manager about this", "I've called several times and it's still not fixed",
    "Honestly I'm a bit disappointed", "It took forever to get through to you", "That's a problem, I need it tomorrow",
    "Okay, thank you very much", "My name is John Smith, date of birth May 3rd 1980", "When do my points expire",
    "The service has been slow lately", "I don't really understand the explanation",
    "The item arrived broken, I want a refund", "Can I get a discount or a coupon", "Hi, I have a quick question",
    "Let me think about it and decide later", "I'll talk to my family and call back",
    "Another company offered me a cheaper price",
    "上司に頼まれて明細を取り寄せたいんです", "弁護士事務所宛ての領収書はもらえますか", "解約すると違約金はいくらですか",
    "I'm the office manager calling about our account", "My supervisor asked me to sort out the bill",
    "I read the reviews online before signing up",
    # near misses: patience on hold, a fee question, annoyance without abuse, a platform in a story
    "I'll hold while you check, no problem", "解約するといくらかかるか、念のため教えてもらえますか",
    "If I cancel early, what would the fee be?", "正直ちょっと腹が立ちましたけど、交換してもらえれば大丈夫です",
    "インスタで見て、この商品を買ったんです", "I saw your ad on TikTok and signed up", "料金のことは家族とよく話し合ってから決めます",
    "Could you send me the details in writing, please",
)
MIN_CHARS = 8  # compact characters (Japanese) or letters (English) below which a final is not scored


class Paraphraser:
    """Scores a final against the examples of every category with one embedding call. Thread-safe."""

    def __init__(self, embedder: Embedder, examples: Mapping[str, Sequence[str]] | None = None,
                 calm: Sequence[str] = CALM_EXAMPLES, similarity: float | None = None) -> None:
        self.embedder = embedder
        self._examples = {k: list(v) for k, v in (examples or EXAMPLES).items()}
        self._calm = list(calm)
        name = getattr(embedder, "name", "")
        self.default_similarity = similarity if similarity is not None else CALIBRATED_SIMILARITY.get(name)
        if self.default_similarity is None:
            log.warning("no calibrated paraphrase similarity for embedder %s: abuse rules match paraphrases only "
                        "when they set `similarity` (python -m eval.alerts_paraphrase --split dev)", name)
        self._lock = threading.Lock()
        self._anchors: tuple[np.ndarray, np.ndarray, list[tuple[str, str]]] | None = None

    def warm(self) -> None:
        """Embed the examples now (start-up, off the event loop), not on a call's first final."""
        self._embedded()

    def _embedded(self) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
        with self._lock:
            if self._anchors is None:
                labels = [(cat, text) for cat, texts in self._examples.items() for text in texts]
                vectors = self.embedder.embed_queries([t for _, t in labels] + self._calm)
                vectors = np.asarray(vectors, dtype=np.float32)
                self._anchors = vectors[:len(labels)], vectors[len(labels):], labels
            return self._anchors

    def score(self, text: str) -> ParaphraseScore | None:
        """Per category: mean cosine to its ``TOP_K`` nearest examples minus the same over the calm ones, and
        the nearest example (the alert's evidence); ``None`` for a final too short to score. Blocking: run it in
        an executor."""
        if len(compact_form(text)) < MIN_CHARS:
            return None
        abusive, calm, labels = self._embedded()
        query = np.asarray(self.embedder.embed_queries([text]), dtype=np.float32)[0]
        baseline = _top_mean((calm @ query).tolist()) if len(calm) else 0.0
        sims: dict[str, list[tuple[float, str]]] = {}
        for (category, example), sim in zip(labels, (abusive @ query).tolist(), strict=True):
            sims.setdefault(category, []).append((float(sim), example))
        scores = {c: _top_mean([s for s, _ in pairs]) - baseline for c, pairs in sims.items()}
        examples = {c: max(pairs)[1] for c, pairs in sims.items()}
        return ParaphraseScore(scores, examples)


def _top_mean(values: list[float]) -> float:
    return float(np.mean(sorted(values)[-TOP_K:]))
