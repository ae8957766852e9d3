"""Wording families for the built-in lexicons (``lexicon.py`` merges these in after ``variants.py``).

``variants.py`` widened the textbook phrases with the wording of the dev calls it was written from, and the held-out
calls showed that it did not reach wording it had not seen. The entries here are written per *family* of how
callers say a thing, not per sentence: the shape of the insult (a body part that is missing or useless: 頭ついとんのか,
耳は飾りか, "are you thick or something"; "you absolute clown"), of the veiled threat (こちらにも考えがある, 首を洗って
待ってろ, 失うものはない, "you'd better hope", "it'd be a shame if something happened"), of intimidation (身のため,
下手に出ているうちに, "choose your words carefully", "I dare you"), of holding the line (受話器を置くつもりはない,
白黒つくまで引き下がらない, "we're staying on this call till…"), of grovelling (額をこすりつけて, 深々とお辞儀, 詫びを
入れろ, "a letter of apology", "say sorry to my face"), of exposure on any channel (グループLINEで回す, フォロワーに
発信, 生配信, "on my TikTok", "my subscribers would love this"), of money on top (日当, 時給換算, お詫びとして形のあるもの,
"for my trouble", "lost wages"), of asking for someone else (話の通じる人, 偉い人, "put your boss on", "escalated to
your team lead") and of leaving (よそに替える, 更新しない, "moving my savings to another bank", "cutting this card up",
"don't count on me renewing"). Dialect and casual endings are spelled out (へん/ん/ねー, たる/てやる).

Every family was written on the dev calls and dev paraphrase rows and checked against every calm dev call and the
calm bait (``eval/data/calm_bait.jsonl``): a pattern that also reads as an ordinary request carries a guard (「何時に
なっても構わないので折り返して」 is a callback request; "I'll stay on the line" is patience; "move money to another bank"
is a transfer; 「無料でいいんですか」 is a question). Patterns use the compact form (Japanese) or the words form
(English) described in ``lexicon.py``.
"""

from __future__ import annotations

# What makes a visit or a bow a demand (謝ってよ, 頭を下げに来い, お辞儀なさるのが筋), not a report of one (直接謝ってくれた).
_DEMAND_JA = ("(謝れ|謝りなさい|謝って(よ|ほしい|もら(う|わな|わん|お)|ください|くれ(?!た|て|ま|る)|ちょうだい|いただ(く|かな|きたい|きます))|謝(り|罪し)に来|詫び(に来|を入れ)|頭(を)?下げ(ろ|なさい|に来|て(よ|ほしい|もら|ください|くれ))|謝る(の|べき)|謝罪(しろ|させ|する(の|べき)|して(もら|ほしい|ください|いただ))|(お辞儀|おじぎ)(しろ|しなさい|なさ|させ|して(もら|ほしい|ください)|するのが)|土下座)")

# Per カスハラ category: (phrases, patterns).
ABUSE_FAMILIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "verbal_abuse": (
        ("間抜け", "まぬけ", "マヌケ", "のろま", "ノロマ", "うすのろ", "トンチキ", "とんちき", "ぼんくら", "ボンクラ", "でくの坊",
         "木偶の坊", "あほんだら", "ボケナス", "ぼけなす", "たわけが",
         "shut your trap", "shut your gob", "use your brain", "use your head"),
        (  # a body part that is missing, empty or only for show: 頭ついとんのか, 脳ミソ入ってんの, 耳は飾りか, 目は節穴か
         "(脳みそ|脳ミソ|のうみそ|脳味噌|頭|あたま|おつむ)(が|は|も)?((つい|付い|入っ|はいっ|腐っ|湧い|わい|沸い)(て|と)"
         "(ん|る|ない|へん|ねー|ねえ|の|か|ちゃう)|空っぽ|からっぽ|カラッポ)",
         "(耳|目|頭)(は|が|も)?(飾り|節穴|ふしあな)",
         # rude verbs of saying: 何ぬかしとんねん, ほざくな, 寝ぼけたこと言ってんじゃねえ
         "(ぬかし|抜かし)(とん|てん|やが|とる|てる|よって)",
         "ほざ(く|け|いて|いと|きやが)",
         "(寝ぼけた|ねぼけた|寝言|たわけた|ばかげた|バカげた|なめた|舐めた)(こと|事|口)(を)?(言|ぬかし|抜かし|こい|ほざ|叩|たた)",
         r"you (absolute |complete |total |utter |bloody |fucking |stupid |useless |little |big )?(clown|muppet|numpty"
         r"|buffoon|twit|prat|plonker|pillock|jerk|dimwit|halfwit|nitwit|dunce|fool|donkey|cretin|dope|dolt|nincompoop"
         r"|loser|tosser|wanker|knobhead|dickhead|prick)s?",
         r"are you (thick(?! skinned)|dense|daft|dim|brain ?dead|simple|mental|an idiot|a moron)( in the head)?"
         r"( or (something|what))?",
         r"are you (slow|deaf|blind|dumb|stupid) (or (something|what)|in the head)",
         r"(do you|have you) (even )?(have|got) (a|any) (brain|brains|brain cells?)",
         r"anything (between|in) (your|those) ears",
         r"shut it(?! (down|off|on|up|out|for))",
         # mocking disbelief at being taken lightly: なめてんの, 舐めとんのか
         "(なめ|舐め|ナメ)(てん|とん|てる|とる|くさって|やがって)(の|のか|んか|か|じゃ|ちゃう)",
         r"you (useless |worthless |absolute |complete |stupid |pathetic |little )*(piece|pile|bag|sack) of (garbage|trash"
         r"|shit|crap|rubbish|filth|dirt)",
         r"(zip it|button it|pipe down|clam up)(?! up)"),
    ),
    "threat": (
        ("首を洗って", "首洗って", "夜道には気をつけ", "帰り道には気をつけ", "帰り道気をつけ", "i've got nothing to lose",
         "i have nothing to lose", "i got nothing to lose"),
        (  # the veiled one: こちらにも考えがございます, こっちも出方を考える, 覚悟しとけ
         "(こちら|こっち|私|わたし|わたくし|俺|おれ|うち|わし|僕)(に|で|と)?も(考え|覚悟|手|出方)(が|は)?(ある|あります|ございます|あるで|"
         "あるんや|あるんだ|あるから|ありますから|ありますよ|ございますよ|ございますから)",
         "出方(を)?考え(る|ます|させ|させて)",
         "失う(もの|もん)(なんて|は|が|など)?(何も|なにも|一つも)?(ない|ありません|ございません|あらへん|ねー|ねえ)(?!って|と(言|聞|思|書))",
         "(それなり|しかるべき|然るべき)の(対応|手段|措置|処置)(を)?(取|と)(る|らせ|ります|らせて|らせてもら)",
         "覚悟(しとけ|しておけ|しといて|しておいて|しとき|しろ|はいい|はできて|しなさい)",
         "(済む|すむ|終わる|終われる)と(お?思う|お?思った|思って|お思い)(な|なよ|なら|たら大間違い|ら大間違い|んじゃない|なさんな)",
         # showing up, with others or at the agent's own office: 支社にツレ連れてく, いつでも顔出したる
         "(ツレ|若いの|若い衆|若い者|ダチ)(を)?.{0,6}(連れて|引き連れ)(く|いく|行く|来る|くる|きて)",
         "(連れ|仲間|知り合い|友達|友人|身内)(を)?.{0,6}(連れて|引き連れ).{0,10}(行く|いく|行ったる|乗り込|押しかけ|来る)"
         "(から|ぞ|で|わ|からな|んで|けど)",
         "顔(を)?出し(たる|てやる|に行ったる|に行ってやる|に行くから|に行くぞ)",
         "(顔|名前|声)(は|を|も)?(一生|絶対|ずっと)?(忘れ|わすれ)(へん|ない|ません|ねー|ねえ|んからな|んぞ)",
         "(場所|住所|家|自宅|職場|支店|事務所)(は|も)?(分か|わか|知)って(る|ん|いる|ます)(から|ぞ|んだ|んや|で)",
         r"(you'd|you had|you) better (hope|pray) (i|we|that i|nobody|no one)",
         r"(would|'d|it'd|it would) be a (shame|pity) if (something|anything|someone)",
         r"something (bad |nasty )?(might|will|could|is going to|is gonna) happen to (you|your)",
         r"find out (where|which) (you|your) (live|work|sit|office|branch|branch you)",
         r"(people|friends|contacts|someone|mates) (at|from|in) the (local )?(paper|papers|newspaper|news|press|tv|media)",
         r"(go|going|talk|talking|speak|speaking|call|calling|write|writing) to the (press|media|papers|newspapers"
         r"|local paper|news)",
         r"(i'll|i will|i'm going to|i'm gonna|i am going to) (drive|come|head|get) (down|over|round|around) (there|to your)",
         # ruin: 会社をつぶしてやる, "make your life hell"
         "(つぶ|潰)し(てやる|たる|てやります|にかか|に行く|に行ったる)",
         r"make (your|you) life (very |really |so |a )?(difficult|hell|miserable|misery|a misery|a living hell|hard)"),
    ),
    "intimidation": (
        ("身のため", "i dare you", "choose your words", "watch your mouth", "watch what you say", "i won't ask again",
         "i will not ask again"),
        (  # 私がどういう立場の人間か調べれば分かる, 下手に出ているうちに, 声を荒げる前に, あとで困るのはそちら
         "(私|わたし|わたくし|俺|おれ|僕|うち|こっち|こちら)(が|を)(誰|何者|なにもの|どういう(立場の)?(人間|者|人|もん))"
         "(だ|か|なのか)",
         "(下手|したて)に出て(る|いる|やってる)(うち|間)",
         "(大人しく|おとなしく|優しく|やさしく|穏やかに|丁寧に)(し|言っ|話し|頼ん)て(る|いる|やってる)(うち|間)",
         "声(を)?荒げ(る|させ|ない)(前|うち)",
         "(あと|後)で困る(の|こと)(は|に)(そっち|そちら|あなた|あんた|お前|おまえ|君|御社|おたく|お宅)",
         r"(choose|pick|think about|think very carefully about|think carefully about|be careful) (about )?(what you say"
         r"|your next words|your words)",
         r"(keep|carry on|go on|try) (\w+ ){0,5}(and|then) see what happens",
         r"(you )?(don't|do not) (want|wanna) to (find out|see) what (happens|i'll do|i do|i'm like)",
         r"(i'm|i am) (about|this close to|nearly|just about) (done|finished) being (polite|nice|patient|reasonable)",
         r"(i'm|i am) asking (you )?(nicely|politely|one more time) for the last time",
         r"(don't|do not) make me (lose|get|come|raise)",
         r"(this is|that's|that is|it's) your (last|final) (chance|warning)",
         # 調子に乗るな, "who you're messing with", "losing my patience with you"
         "調子に(乗|の)(るな|んな|ってん(じゃ|の)|っとん|りやが|ってる(んじゃ|のか))",
         r"(know|idea|realize|realise|forget) who (you're|you are) (messing|dealing|mucking|screwing|trifling) (with|about)",
         r"(losing|running out of|about to lose|lost) (my )?(patience|temper) with you"),
    ),
    "personal_attack": (
        ("人として終わ", "人間として終わ", "人としておかしい", "人間としておかしい", "人として問題", "人間として最低",
         "waste of oxygen", "waste of a salary", "more sense than you", "smarter than you", "more brains than you",
         "more brain cells than you"),
        ("よく(も)?(そんな|そんなん|それ|その程度|こんな|そのレベル)(ん)?で.{0,10}(社会に出|働け|働いて|勤ま|務ま|仕事(が)?でき|"
         "給料|やって(いけ|られ|こられ)|生きて)",
         "(どういう|どんな|どう)(育て方|育てかた|育てられ|しつけ|躾)",
         "育て方(を)?(間違え|まちがえ|失敗)",
         "(親|親御さん|ご両親|両親|おかん|おふくろ)(は|が|も|の|さん)?.{0,12}(育つとは|顔が見たい|泣いて|悲しむ|恥ずかし)",
         "(こんな|この程度の|そんな|これくらいの|これぐらいの)(理屈|こと|話|説明|計算|簡単なこと)(も|すら)(分から|わから|理解でき|"
         "でき)(ない|ん|ねー|へん)(人|奴|やつ|方|あんた|あなた|お前)",
         "(小学生|中学生|幼稚園児|子供|子ども|猿|サル)(以下|並み|レベル)",
         r"how (did|do|does|could|can) (you|someone|somebody|anyone|people like you)( \w+){0,3} (get|keep|hold|land|got"
         r"|have) (a|this|that|your|their|the) job(?! (fun|interesting|exciting|easier|enjoyable))",
         r"(don't|do not|can't|cannot) (know|understand|believe) how (you|someone|somebody|anyone|a person)( \w+){0,3} "
         r"(keeps|keep|kept|got|gets|holds|has|landed) (a|this|that|their|your|the) job",
         r"did (you|they) (even )?(finish|go to|pass|get through) (school|high school|training|the interview|kindergarten)",
         r"did (they|anyone) (even )?(train|hire) you",
         # too stupid for the job; what one's parents must think
         r"(you're|you are) (too|so|far too|way too) (stupid|dumb|thick|incompetent|useless|slow|dim) (to|for)",
         r"your (parents|mother|mum|mom|father|dad|family) (must|would|should)( \w+){0,2} (be )?(so |very |really )?"
         r"(ashamed|disappointed|embarrassed)"),
    ),
    "long_restraint": (
        ("cancel your plans", "cancel your evening"),
        (  # 受話器を置くつもりはない, この電話を終わらせない, 白黒つくまで引き下がらない, とことん付き合ってもらう
         "(受話器|電話|通話)(を|は)?(絶対に?|決して)?(置く|切る|終わらせる|終える)(つもり|気)(は|も)?(ない|ありません|ございません|"
         "ねー|ねえ|あらへん)",
         "(受話器|電話|通話)(は|を)?(絶対|決して)(に)?(置|切|終わら)(か|ら|せ)(ない|ません|へん|ん|せない|せません)",
         "まで.{0,20}(電話|受話器|通話)(を|は)?.{0,6}(終わらせ|終わら|置か|切ら|置き|切り)(ない|ません|へん|せん|せない|"
         "せません)",
         "(白黒|決着|けり|ケリ|話|カタ|かた)(が)?(つく|はっきりする|つける|付く|つかん|つかない)まで.{0,16}(引き下が|引か|帰ら|帰り|帰れ|"
         "付き合|つきあ|切ら|やめ|終わら|続け|話し)",
         "(絶対に?|一歩も|そう簡単に)引き下が(らない|りません|らへん|らん|らねー|らねえ)",
         "とことん(付き合|つきあ|話し|やり)",
         "(最後|終わり|決着|納得|解決|朝|夜中|明け方).{0,8}(付き合|つきあ)って?(もら(う|います|うで|うよ|うから)|"
         "いただき(ます|ますよ|ますから))",
         "(帰れる|終われる|切れる|逃げられる|逃げれる)(と|って)(思う|思わ|思った)(な|ないで|ら大間違い)",
         "(朝|夜中|明け方|日付が変わる|夜)まで(だろうが|でも|かかっても|かかろうが)",
         r"(stay|staying|sit|sitting|hold|holding|wait|waiting|remain|remaining|be|being) (right )?(here )?(on )?(this"
         r"|the) (call|line|phone) (all day|all night|(till|until) (somebody|someone|you|this|it|i|we)( \w+){0,3} (gives?"
         r"|get|gets|sorts?|sorted|fix|fixes|fixed|resolves?|resolved|settles?|settled|refunds?|agrees?))",
         r"(i'll|i will|i can|i'm going to|i'm gonna|i am going to|we'll|we will) (hold|wait|stay on|sit here) (all day"
         r"|all night|for hours|forever|till midnight|until midnight)",
         r"(nobody|no one|nobody's|no one's|you're not|you are not|you aren't|you ain't) (is )?(hanging|going to hang"
         r"|gonna hang|getting off|leaving|going anywhere|hanging up on me)( up)?( on me)? (until|till|before)",
         r"(i'm|i am|we're|we are) not (letting|going to let|gonna let) you (go|off|hang up|leave)",
         # not moving, holding out, calling again and again, the talk not ending: ここを動きません, 何度でもかけ直す
         "(まで|ない限り|ないうちは).{0,12}(ここ|この場|電話口|受話器の前|ここから)(を|から|は)?(動か|動き|離れ|どか|どき|引か|引き)(ない|ん|へん|ません|ねー|ねえ)",
         "(まで|とことん|いくらでも|何時間でも|何時まででも).{0,10}粘(る|り|らせ)",
         "(何度|何回|何べん|なんべん|毎日|毎晩|一日中)でも.{0,6}(かけ直|掛け直|かけなお|電話)(し|す)(ます|る|たる|てやる)",
         "(首を縦に振る|うんと言う|認める|折れる)(まで|までは).{0,12}(終わ|切ら|切り|帰ら|引か|やめ)",
         "(まで|ない限り).{0,12}(話|この件|この話|この電話|これ)(は|を)?(終わり|終わら|終え|やめ)(ません|ない|へん|ん|させない|させません)",
             r"(i'll|i will|i'm going to|i'm gonna|i am going to) keep (calling|ringing|phoning)( back| you)?( \w+){0,3} (until"
         r"|till|every (hour|day|morning|ten minutes|five minutes))",
         r"(don't|do not|dont) (even )?(think about|dare|try) (ending|hanging up|ending this call|putting the phone down"
         r"|cutting me off)"),
    ),
    "dogeza_demand": (
        ("say sorry to my face", "apologize to my face", "apologise to my face"),
        (  # 額を地面にこすりつけて, 玄関先で深々とお辞儀, 詫びを入れろ, 店長が直々にうちまで来て謝れ
         "(額|頭|おでこ|でこ)(を)?(地面|床|畳|地べた|玄関)?(に)?(こすり|擦り|すり)(つけ|付け)",
         "(地面|床|畳|地べた)に(額|頭|おでこ|でこ)",
         "(深々|ふかぶか)と?(頭を下げ|お辞儀|おじぎ)(ろ|なさ|しろ|しなさい|して(もら|ほしい|ください|よ)|するのが|させ|すべき|るべき)",
         "(お辞儀|おじぎ)(を)?(しろ|しなさい|なさ|させ|して(もら|いただ|ほしい|ください)|するのが(筋|当然|当たり前))",
         "(詫び|わび)(を)?入れ(ろ|て|に来|させ|なさい)",
         "(うち|ウチ|家|自宅|玄関|実家)(まで|に|へ)?.{0,8}(来|き|持って|届けに|出向|お見え|伺|足を運).{0,16}" + _DEMAND_JA,
         "(店長|所長|支店長|社長|部長|課長|責任者|上司|上の人|担当者全員|全員)(さん)?(が|に|から|で)?(直々|直接|自ら|揃って|そろって)"
         ".{0,20}" + _DEMAND_JA,
         r"(want|demand|expect|need|get me|i'd like|send me|write me|owe me|owe us)( \w+){0,4} (letter of apology|apology"
         r" letter|(signed|handwritten|formal|personal|official) (letter of )?apology)",
         r"(apologi[sz]e|say sorry|beg)( to me)? (to my face|face to face)",
         r"(come|coming|comes|turn up|show up|get)( round| over| down| here)?( \w+){0,3} (and|to) (apologi[sz]e|say sorry|beg)",
         r"(calling|call|ring|visit|visiting) me (personally|in person|himself|herself|themselves) to (apologi[sz]e"
         r"|say sorry|beg)",
         r"(to|and) beg (me )?(for )?(my )?(forgiveness|mercy)",
         r"(at|to) my (door|doorstep|front door)( \w+){0,4} (apologi[sz]\w*|saying sorry|say sorry)",
         r"(whole|entire) (team|department|staff|office)( \w+){0,6} (apologi[sz]\w*|saying sorry|say sorry)",
         # a written apology demanded: 謝罪文を書いて送ってきなさい, 詫び状をよこせ; "at my house with an apology"
         "(謝罪文|詫び状|わび状|お詫び状|始末書|反省文)(を)?.{0,8}(書|送|出|持って|よこ|寄越)(け|せ|れ|きなさい|いてこい|ってこい|って来|ってき|いてき|ってください|ってほしい|ってもら|いてもら|いてください|させ|しなさい|しろ)",
         r"(at|to|round|over to) my (house|home|place|door|doorstep|flat)( \w+){0,4} (with|and) (an |a written |a formal "
         r"|a proper |a personal )?(apology|apologi[sz]e|say sorry)"),
    ),
    "sns_exposure": (
        ("生配信", "ライブ配信", "配信してる", "配信中", "晒し上げ", "さらし上げ", "live streaming this call",
         "livestreaming this call", "streaming this call", "live streaming this", "say hi to my chat", "chat says hi"),
        (  # グループLINEで回しとく, ネットの皆さんに見てもらう, フォロワーに発信, ショート動画にしたらバズる
         "(line|ライン|グループ|ママ友|近所|町内|ご近所|親戚|職場)(の|で|に)?.{0,20}(回し(とく|ておく|とき|ます|たる|てやる)|回す(から|で|わ)|"
         "流し(とく|ておく|ます|たる|てやる)|広め(とく|ておく|ます|たる|てやる|るから))",
         "(ネット|sns|ウェブ|インターネット)の(皆|みな|みんな|人|方)(さん|さま|様|たち)?(に|へ).{0,8}(見|読|知|聞)(て|ん)(もら|いただ)",
         "(フォロワー|登録者|視聴者|リスナー|読者)(さん)?.{0,10}(に|へ|向け).{0,8}(発信|拡散|伝え|知らせ|話し|公開|報告|シェア|晒)",
         "(動画|ショート|切り抜|配信|投稿|アップ|晒|拡散|ネット).{0,8}(たら|れば).{0,4}(バズ|伸び|炎上|話題)",
         "(星|ほし)(ひとつ|1つ|一つ|1|ゼロ|0)(を|で|に)?(つけ|付け|し(とく|ておく|てやる))",
         r"(going|goes|go|put|putting|post|posting|upload|uploading|share|sharing|it's going)( \w+){0,4} (on|to) (my|the)"
         r" (tiktok|youtube|channel|instagram|insta|twitter|facebook|blog|stream|story|stories|community page|group chat)",
         r"(my|all my) (subscribers|followers|viewers|audience|chat|channel)( \w+){0,6} (hear|see|know|love|watch|find out"
         r"|says|say|is watching|are watching)",
         r"(thousands|hundreds|millions|loads|lots) of (people|followers|viewers|subscribers)( online)?( \w+){0,4} (see"
         r"|hear|know|read|watch|find out)",
         r"guess what (my |tomorrow's |tonight's |the |next )+(post|video|tweet|stream|upload|story|review)",
         # posting it anywhere, with or without a determiner: "on Reddit", 口コミサイトに実名で書かせてもらう, "going viral"
         "(口コミ|クチコミ|レビュー|掲示板|評価サイト|ブログ|ネット|sns|ツイッター|twitter|インスタ|フェイスブック|facebook|ユーチューブ|youtube|tiktok|ティックトック|x)(サイト)?(に|で|へ|上で).{0,10}(書か|書き込ま|載せ|投稿さ|公開さ|アップさ|晒さ)せて(もら|いただ)",
         "実名(で|を|も|入りで).{0,8}(書き込|書か|載せ|晒|さら|投稿|公開|アップ)",
         r"(put|putting|post|posting|upload|uploading|share|sharing)( \w+){0,4} (on|to|all over) (reddit"
         r"|yelp|trustpilot|google reviews|the internet|social media|every forum|x|whatsapp)",
         r"(everyone|everybody|all)( \w+){0,4} (is going to|are going to|will|'ll|are gonna|is gonna) (know|hear|see|find out)"
         r"( \w+){0,2} (your name|about (this|you|how you)|what you)",
         r"(tell|tells|show|shows|let|lets) (everyone|everybody|the world|people|all of them)( \w+){0,2} (exactly )?(who you are|your name"
         r"|what you (did|said|have done))",
         r"(goes|going|gonna|will go|about to go|'ll go) viral"),
    ),
    "excessive_demand": (
        ("上乗せして", "上乗せしろ", "上乗せしなさい", "上乗せしてもら"),
        (  # 日当つけて, 時給換算で払って, お詫びとして形になるもの, 来年の会費はタダでええやろ
         "(日当|迷惑料|手間賃|時給|時給換算|日給|休業補償|お詫び料|詫び料)(として|で|を|も|分|の分)?.{0,10}(払|つけ|付け|上乗せ|出し|"
         "出せ|請求|計算|もら)",
         "(お詫び|おわび|詫び)(として|の印に|のしるしに|に)?.{0,12}(形|品|物|もの|金|商品券|ギフト|何か|なにか)(を|に|の)?.{0,8}"
         "(送|よこ|寄越|くれ|ちょうだい|用意|出し|もら|いただ)",
         "(タダ|ただ|無料)(で|に)(ええ|いい)(やろ|でしょ|だろ|よね|じゃない|じゃん|に決まって)",
         "(タダ|無料)に(しろ|しなさい|して(よ|くれ|ちょうだい|もらう(わ|よ|から|で))|するのが(当然|筋|当たり前)|すべき)",
         r"(pay|paid|paying|compensat\w*|owe|owed|plus|gift card|voucher|quid|pounds|dollars|bucks|money|cash|hundred)"
         r"( \w+){0,8} for (all )?(my|the) (trouble|stress|time|inconvenience|suffering|hassle|distress|aggravation"
         r"|wasted time)",
         r"(you'll|you will|you're going to|you are going to|you'd better|you need to|you have to|you're|you are) (be )?"
         r"(covering|cover|paying for|pay for|reimbursing|reimburse)( \w+){0,3} (lost wages|wages|time off|day off|taxi"
         r"|lost earnings|my time)",
         r"(plus|throw in|and also) (a|one|two|three|six|twelve) (free )?(years?|months?)( of free| free| for free)",
         r"every (penny|cent|dime) (back )?(plus|and)",
         # time, fares and distress paid for; double back; a year free: 交通費と時間を弁償しなさい, "refund me double"
         "(時間|手間|交通費|精神的苦痛|精神的な苦痛|精神的ダメージ|休んだ分|仕事を休んだ).{0,10}(弁償|賠償|補償|払)(しなさい|しろ|せえ|え|いなさい|って(もら(う|います|うから|うで|うわ)|ちょうだい|よ)|うべき|うのが(筋|当然))",
         r"(refund|pay|give|compensate) (me|us) (double|twice|triple|three times|ten times)",
         r"(i want|i expect|i demand|you owe me|give me|i deserve)( \w+){0,2} (a|one|two|three|six|twelve) (free )?"
         r"(years?|months?)( of)? (free|service free|for free|free service)"),
    ),
}

MANAGER_FAMILIES: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("put your boss on", "put your manager on", "put your supervisor on"),
    ("(話|はなし)(の|が)(通じる|通じ|分かる|わかる|早い)(人|方|者|やつ|奴|ひと)(に|と|を|出|呼|連れ|お願い|頼)",
     "(偉い|えらい|上役|上席|決定権のある|権限のある|決められる|話のできる)(人|方|者|やつ|奴|さん)(を|に|と)?.{0,6}(出し|出せ|出て|代わ|替わ|"
     "かわ|呼|連れ|つな|繋|話さ|話し)",
     "(上長|部長|課長|支店長|所長|係長|主任|リーダー|sv)(さん)?(を|に|と)?.{0,8}(出して|出せ|出てもら|代わ|替わ|かわって|呼んで|呼べ|"
     "連れて|つない|繋い|話させ|話をさせ)",
     r"(escalated|escalate (this|it|my \w+))( \w+){0,3} to (your|a|the) (team lead|team leader|manager|supervisor|boss"
     r"|superior|line manager|head)",
     r"(want|like|need) (this|it|my (complaint|case|issue|claim)) escalated",
     r"(speak|talk|speaking|talking) (to|with) (a|your|the) (team lead|team leader|line manager)",
     r"put (your|the|a) (boss|manager|supervisor|team lead|team leader|superior) on",
     r"(get|find|give) me (someone|somebody|anyone|a person) (who|that) (can|actually can|has|is able)",
     # someone in charge by position or title, brought to the phone by any verb: 責任ある立場の方と話させて,
     # センター長さん…呼んできて, 上のもん呼んできてや, 管理職の方に出ていただけませんか; the boss's name demanded
     "(責任(の)?ある|上位の|しかるべき|権限(の)?ある|決裁権(の)?ある)(立場|役職|ポジション)(の)?(方|人|者|人間|もん)(と|に|を)?.{0,8}"
     "(話さ|話し|代わ|替わ|かわ|回し|つない|繋い|呼ん|呼べ|出して|出せ|出て(いただ|もら|ください|ちょうだい|くれ))",
     "上の(方|人|者|もん|人間)(に|を|と)?.{0,6}(回し|代わ|替わ|かわ|つない|繋い|話さ|呼ん|呼べ|出して|出せ|"
     "出て(いただ|もら|ください|ちょうだい|くれ))",
     "(センター長|室長|店長|支店長|所長|マネージャー|マネジャー|管理者|管理職|監督者|上司|上長|責任者|偉いさん)(さん|の方|の人|様)?"
     "(を|に|と|は)?.{0,16}(呼んで(き|く|ください|ちょうだい|もら|ほしい|よ|や)|呼べ|出して(ください|ちょうだい|もら|ほしい|よ|や)|"
     "出せ|出て(いただ|もら|ください|ちょうだい|くれ)|代わって|替わって|かわって|代われ|つないで|繋いで)",
     "(上司|責任者|上の人|上の方|センター長|店長|管理職)の(名前|氏名|お名前|連絡先|直通|電話番号|番号)(と|を|も)?.{0,10}(教え|言え|出せ|よこせ)",
     r"(pass|passing|send|sending|bump|bumping|kick|kicking|move|moving) (me|this|it|my call|my complaint) up the"
     r" (chain|ladder|line)",
     r"(transfer|put|pass|send|connect|get) me (through )?(to|on to|over to|with) (someone|somebody|anyone|a person"
     r"|whoever)( \w+){0,2} (senior|more senior|higher up|above you|in charge|with (more )?authority)",
     r"(is there|have you got|do you have|where is your|i need|i want|get me|i'd like|can i get|could i get)( a| an"
     r"| the| your)? (duty|floor|shift|store|branch|office|call center|call centre|general|senior|line) (manager"
     r"|supervisor)",
     r"have a word with (your|a) (boss|manager|supervisor|superior|line manager|team lead|team leader)"),
)

CANCELLATION_FAMILIES: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("won't be renewing", "will not be renewing"),
    ("(他社|他所|よそ|ヨソ|他の(会社|銀行|店|ところ|業者|保険会社|電力会社|キャリア|カード)|別の(銀行|店|業者|保険会社|電力会社|キャリア))"
     "(に|へ|で)(全部|ぜんぶ)?(替え|変え|かえ|移|乗り換え|乗りかえ|切り替え|切りかえ|頼|買|入り直)(る|ます|たる|てやる|させてもら|"
     "ますから|るから|るわ|ろうか|よう|ますので|るので|ます)",
     "(全部|ぜんぶ|口座ごと|まるごと|預金|給料|貯金)(も|を|は)?.{0,8}(よそ|他所|他行|別の銀行|他の銀行)(に|へ)",
     "(次の|今度の)?(更新|契約更新)(の)?(タイミング|とき|時|の時)?(で|に)?.{0,6}(やめ|辞め|解約|乗り換え|乗りかえ|移り|移る|移ります)",
     "(更新|継続)(は|を)?(しない|しません|しねー|せえへん|せん)(から|で|わ|ので|つもり)",
     r"(moving|move|taking|take|pulling|pull|switching|switch) (my|all my|our|all our) (salary|savings|business"
     r"|custom|accounts|everything|mortgage|policy|policies|pension|investments|contracts?)( and (my|our) \w+)? (to"
     r"|over to) (another|a different|a new|some other|a competitor|your competitor)( \w+)? (bank|provider|company"
     r"|insurer|carrier|supplier)(?! (account|card|transfer))",
     r"(don't|do not) count on me (being|staying|renewing|sticking|coming back|buying|ordering|signing)",
     r"(i'm|i am|we're|we are) not (renewing|going to renew|gonna renew)",
     r"(pulling|pull|withdrawing|taking) (out )?(every penny|everything|(all )?(my|our) (money|savings|accounts))"
     r"( out)? (of|from) (this|your) (bank|company)",
     r"(i'm|i am|i'll|i will|i'm going to|i am going to|i'm gonna) (cutting|cut|chopping|chop) (this|the|my|your)"
     r" (stupid |damn |bloody )?card (up|in half|into pieces|in two)",
     # ending the relationship itself: おたくとはもう取引しません, 契約を打ち切って, ほかの会社…そっちにします
     "(おたく|お宅|御社|そちら|そっち|この会社|こちらの会社|あんたんとこ|あなたのところ)(と|とは)(もう|今後|二度と)?.{0,4}"
     "(取引|付き合い|お付き合い|契約)(は|を|も)?(しない|しません|せん|しねー|やめ|終わり|おしまい|打ち切|切ら)",
     "(契約|取引|口座|サービス|全部|すべて|全て)(を|は|も)?(全部|ぜんぶ|すべて|全て)?(打ち切|うちき)(る|り|って|らせ)",
     "(他社|よそ|他所|ヨソ|(ほか|他|別)の.{0,4}(会社|銀行|キャリア|店|業者)).{0,24}(そっち|あっち|向こう|そちら)(に|へ|で)"
     "(します|しよう|する(わ|から|ので|つもり)|替え|変え|移り|移る|乗り換え|決め)"),
)
