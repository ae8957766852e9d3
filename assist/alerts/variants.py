"""Broader wording for the built-in lexicons (``lexicon.py`` merges these in): how callers actually say it.

The first lexicons caught the textbook forms (上司を出せ, 訴えてやる, "speak to your supervisor") and missed the
same intent in other words: legal and consumer-centre threats (消費者センターに相談します, "my lawyer will be hearing
about this"), manager requests through any verb (上の人につないで, 上司を電話口に連れてきて, "someone senior",
"whoever runs this place"), cancellations without 解約 (もう持ちません, 別のカードに切り替えます, "take my money
somewhere else"), personal attacks by comparison (学生のバイトでももっとまともに…, "a child could do your job"),
and exposure on any platform (Xに載せます, "put a review up on every site"). Entries are written against the compact
form (Japanese: no spaces or punctuation, kana and kanji variants spelled out) or the words form (English), like the
rest of the lexicon; they are chosen on the dev escalations and checked against every dev calm call, including the
bait calls of ``eval/data/calm_bait.jsonl``.

``INQUIRY_JA`` / ``INQUIRY_EN`` mark a clause that *asks about* cancelling (手続きの方法を教えて, 解約すると違約金は,
"how would I cancel") rather than threatening it, and a request made *on behalf of* one's boss (上司に代わって
お電話しました, 上司に代わって私が手続きに), a manager who already took over (店長さんに代わってもらったら), or a callback
from one being awaited (責任者の方から折り返しいただけるなら): a manager or cancellation hit inside such a clause does not
fire.
"""

from __future__ import annotations

import re

# Per カスハラ category: (phrases, patterns).
ABUSE_MORE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "verbal_abuse": (
        ("ばかやろう", "バカヤロー", "くそやろう", "クソ野郎", "能天気", "ふざけたこと",
         "are you deaf", "are you stupid", "what the hell is wrong with you", "what is wrong with you people"),
        (),
    ),
    "threat": (
        ("法的措置", "法的手段", "訴訟を起こ", "告訴", "被害届", "どうなっても知らない", "どうなっても知らんぞ",
         "タダじゃおかない", "タダで済むと思", "tell it to my lawyer", "you'll be hearing from my lawyer",
         "you will be hearing from my lawyer", "you'll be sorry", "you will be sorry", "take legal action",
         "taking legal action"),
        ("(消費者センター|消費生活センター|国民生活センター|消費者庁|弁護士|警察|裁判所|マスコミ|新聞社|テレビ局|監督官庁|"
         "総務省|金融庁|経産省)(に|へ|と|にも|へも|とも)?.{0,6}(相談し(ます|てやる|ますから|ますよ|ますね|ますので|ても)|"
         "相談する(から|ぞ|よ|し|つもり)|言(い|っ)(ます|てやる|つけ)|訴え|通報|連絡し(ます|てやる)|入ってもら|頼(み|ん)ます|"
         "依頼し(ます|てやる)|任せ(ます|る)|持ち込|話し(ます|てやる)|行きます|行くから|出(ます|る)から)",
         "訴え(る|ます|てやる|させてもらい|させていただき)(から|ぞ|よ|し|ね|つもり|こと|んで|ので)",
         "裁判(にし|を起こ|に訴え|沙汰|にかけ)",
         r"my (lawyer|attorney|solicitor)s? (will|is going to|'ll|are going to) (be )?(hear|hearing|contact|contacting"
         r"|call|calling|deal|dealing|be in touch|get involved)",
         r"(talk|speak|speaking|talking) to my (lawyer|attorney|solicitor)",
         r"(get|getting) my (lawyer|attorney|solicitor)s? involved",
         r"(take|taking) (you|this|your company) to court",
         r"(report|reporting) (you|this|your company) to (the )?(better business bureau|bbb|regulator|police|ombudsman"
         r"|consumer protection|fcc|cfpb|authorities)",
         r"sue (you|your company|the company|this company)"),
    ),
    "intimidation": (
        ("客に向かって", "お客に向かって", "逃げる気か", "逃げるつもりか", "誰のおかげで", "ナメてんのか", "ナメてる",
         "don't test me", "watch your tone", "you don't want to make me angry", "do you have any idea who"),
        ("(その|なんだ|何だ|なんなの|何なの|なんですか).{0,4}態度|態度(は|が)(なんだ|何だ|なってない|なんですか)",
         "(本気で|マジで|まじで)?怒(ったら|らせたら|らせると).{0,4}どうなるか",
         "どうなるか(分か|わか)って(る|ん|い|て)",
         "(こっち|こちら|私|俺|あたし)(は)?(客|お客)(だ|なんだ|なんです|ですよ)",
         "お?金(を)?払って(る|いる)(側|客|んだ|んです)"),
    ),
    "personal_attack": (
        ("使い物にならない", "存在価値", "脳みそ", "人としてどうか", "人として最低", "まともな日本語",
         "a child could do your job", "do your job better than you", "how did you even get this job",
         "how did you get this job", "you should be ashamed", "are you even trained", "you're a disgrace",
         "you are a disgrace", "you're a joke", "you are a joke"),
        ("(この|今の|その)?仕事(に|が)?向いて(ない|いない|ません)",
         "よく(それ|そんなの|そんなん|そんな)で?(お?給料|お?金|給与)(を)?もら",
         "(学生|子供|子ども|小学生|中学生|新人|バイト|素人)(の|のバイト)?(でも|だって).{0,14}(まし|まとも|もっと|"
         "できる(ぞ|わ|よ|って|のに|やろ|だろ|でしょ))",
         "(お前|おまえ|あんた|あなた|てめえ).{0,12}(無駄|ダメ|だめ|ろくでもない|いる意味|いない方が)",
         r"(a|any) (monkey|child|kid|trained parrot|robot) could (do|handle)"),
    ),
    "long_restraint": (
        ("一歩も引かない", "一歩も引きません", "逃がさない", "逃がしません",
         "i'm not going anywhere", "i am not going anywhere"),
        ("(答え|返事|結論|回答|説明|誠意|返金)(が|を)?(出る|もらえる|聞ける|くれる|見せる|する)まで.{0,14}"
         "(話し(ます|続け)|続け|付き合|切らない|切りません|切らせ|ここ|このまま|帰らない|帰りません)",
         "(ずっと|いつまでも)このまま(話し|続け|付き合|待ち)",
         "(夜|朝|夜中|日付が変わって|何時)に?なっても(構わ|かまわ|いい|話し|付き合|続け)"
         "(?!.{0,12}(折り返|連絡|ご?電話(を|して|ください|ちょうだい|お願い)|お待ちして))",
         r"i('m| am) not (getting|going to get|gonna get) off (this|the) (phone|call|line)",
         r"i('m| am) not (hanging|going to hang|gonna hang) up (until|till|before)",
         r"(we|i) (can|will|'ll) (stay|sit|be) (here|on this (line|phone)) (all day|all night|until)"),
    ),
    "dogeza_demand": (
        ("謝罪しに来", "お詫びに来い", "謝りに来なさい", "始末書を", "反省文を", "kneel", "bow down",
         "apologize to me in person", "apologise to me in person"),
        ("(うち|ウチ|家|自宅|会社|事務所)(まで|に|へ)(来|き)て.{0,10}(謝|詫び|頭(を)?下げ|土下座)",
         "頭(を)?下げ(ろ|なさい|に来|てもらう|させ|て当然|るべき)",
         "(社長|役員|責任者|上司)(に|から|が)?(直接)?(謝罪|謝らせ|謝りに|詫びに)",
         r"i want (your|the) (manager|boss|ceo|supervisor|president) to (personally )?apologi[sz]e"),
    ),
    "sns_exposure": (
        ("晒し者", "言いふらす", "言いふらして", "tell all my followers", "tell my followers",
         "share the recording", "share this recording"),
        ("((?<![a-z])x|sns|ネット|インターネット|twitter|ツイッター|エックス|youtube|ユーチューブ|インスタ|instagram|tiktok|"
         "ティックトック|フェイスブック|facebook|ブログ|口コミ|クチコミ|レビュー|掲示板|動画)(に|で|へ|上で|上に)"
         ".{0,10}(載せ|のせ|アップ|公開|晒|さら|拡散|書き込|書きます|書くから|書くぞ|書いてやる|投稿|流し|流す|広め)",
         "(録音|動画|やり取り|やりとり|会話|通話)(を|は|も)?.{0,10}(公開|アップ|載せ|晒|拡散|流しま|流して)",
         "(みんな|世間|全員|友達|友人|フォロワー)(に|へ).{0,10}(知ってもら|知らせ|広め|言いふら|拡散)",
         r"(put|putting|post|posting|write|writing|leave|leaving) (a |an )?(bad |terrible |negative |one star |1 star )?"
         r"reviews? (up )?(on every|on all|everywhere|on every site|all over)",
         r"(tell|telling) (all|every one|everyone) of my (followers|friends)"),
    ),
    "excessive_demand": (
        ("お詫びの品", "商品券をよこせ", "you owe me", "compensate me", "free for a year"),
        ("(タダ|ただ|無料)で(よこせ|寄越せ|くれ|しろ|しなさい)",
         "(交通費|迷惑料|手間賃|慰謝料)(を|も)?(払え|出せ|払って当然|出して当然|払いなさい|よこせ)"),
    ),
}

MANAGER_MORE: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("上司を電話口", "責任者を電話口", "話のわかる方", "判断できる人", "決められる人", "決裁できる人",
     "担当を替え", "担当を変更", "担当者を変更", "違う人に代わ", "違う方に代わ",
     "someone with authority", "someone who can actually decide", "someone who can make a decision",
     "put me through to someone", "escalate this call"),
    ("(上司|上の人|上の方|上の者|責任者|管理職|スーパーバイザー|店長|支配人|センター長|マネージャー|マネジャー|"
     "判断できる|決められる|決裁できる)(の方|の人)?(に|と|を|へ)?.{0,8}"
     "(つない|繋い|つなげ|繋げ|代わ|替わ|かわって|出して|出せ|呼んで|呼べ|連れて|電話口|話させ|話をさせ|話したい|"
     "出てもら|お願いします)",
     "担当(者)?(を|は)?(変え|代え|替え|かえ)(て|ろ|てくれ|てほしい|てください|てもらえ)",
     "(別|他|ほか|違う)の(人|方|担当|者)(に|と)(代わ|替わ|かわ|変わ|話し|話させ)",
     "(あなた|あんた|お前|おまえ|君)(じゃ|では|とは|と話しても)(話にならない|話にならん|らちが明かない|埒が明かない|"
     "らちがあかない|無理|分からない|わからない)",
     r"(i want|i need|i'd like|i would like|get me|put me through to|let me (talk|speak) to|can i (talk|speak) to"
     r"|i demand) (someone|somebody|anyone) (senior|more senior|higher up|in charge|above you|with (more )?authority)",
     r"(someone|somebody) senior on (the|this) (line|phone|call)",
     r"(talk|speak|speaking|talking) (to|with) (whoever|whomever|the person who) (runs|is in charge|manages|owns)",
     r"(want|need|demand|get|give|put) (me )?(to |through to )?(your|a|the) (supervisor|manager|boss|superior"
     r"|line manager|head of department|director)"),
)

CANCELLATION_MORE: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("はさみを入れ", "ハサミを入れ", "縁を切", "契約解除", "付き合いをやめ", "もう頼まない", "二度と頼まない",
     "take my money somewhere else", "take my money elsewhere", "take my business somewhere else",
     "done shopping here", "you've lost a customer", "you have lost a customer", "you just lost a customer",
     "never shop here again", "never order from you again"),
    ("(もう|二度と)(使い|利用し|頼み|買い|持ち|契約し)(ません|たくない|ないから|ないです|ない)",
     "((別|他|ほか|よそ)の|違う)(会社|キャリア|カード|サービス|業者|店|ところ|プロバイダ|携帯会社)(に|へ)"
     "(乗り換え|乗りかえ|(変え|替え)(ます|る)|切り替え|切りかえ|移り|移る|移ります|します)",
     "(他社|他の会社|よそ)(に|へ)(移|行)",
     "契約(を)?(続ける|更新する|継続する)(気|つもり)は(ない|ありません)",
     r"(i'm|i am|we're|we are) (done|finished) (shopping|with you|with this company|with your company|with your)",
     r"(take|taking) my (money|business|custom) (somewhere|elsewhere)",
     r"(looking at|looking into|shopping around for|checking out) (other|another|different) "
     r"(providers?|companies|company|banks?|carriers?|options)",
     r"consider (this|my|the) (account|contract|subscription|membership) (closed|cancelled|canceled|over|terminated)",
     r"(i'll|i will|i'm going to|i am going to) (switch providers|switch companies|go elsewhere|go somewhere else)"),
)

# A clause that asks how cancelling works, or speaks for one's boss: not a threat, not a manager request.
INQUIRY_JA = re.compile(
    "(方法|やり方|仕方|手順|流れ)(を|は|について|って)?(教え|知りたい|ありますか|どう|お聞き|伺い)"
    "|手続き(の方法|方法|について|を教え|はどう|の流れ|の仕方)"
    "|(違約金|解約金|手数料|費用|解約料)(は|って|が|も)?(いくら|かかり|発生|どのくらい|どれくらい)"
    "|(解約|キャンセル)(する|した|になる)(と|ら|場合)"
    "|に代わって.{0,12}(お?電話|ご?連絡|お?問い合わせ|参り|来|手続き|伺)"
    "|(代わって|替わって|かわって)(もらっ|いただい)た"
    "|から(の)?(折り返し|ご?連絡|お?電話)(を|が)?(いただ|もら|待)")
INQUIRY_EN = re.compile(
    r"\b(how (do|can|would|should|could) i (go about )?(cancel|close|terminate)|what's the process for"
    r"|what is the process for|process (for|of) (cancelling|canceling|closing)|is there (a|any) (fee|charge|penalty)"
    r"|how much (is it|does it cost|would it cost) to (cancel|close))\b")
