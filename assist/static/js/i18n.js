// Every string the widget shows, Japanese first. Elements name their string with data-i18n
// (text), data-i18n-placeholder, data-i18n-title or data-i18n-aria-label; code calls t(key, vars).

const STRINGS = {
  ja: {
    "app.title": "通話アシスト",
    "lang.toggle_label": "English に切り替え",
    "call.heading": "通話",
    "call.id_label": "通話ID",
    "call.id_placeholder": "通話IDを入力 / 通話中の一覧から選択",
    "call.connect": "接続",
    "call.bad_id": "通話IDは英数字と . _ : - のみ使えます。",
    "demo.play": "デモ通話を再生",
    "demo.stop": "デモを停止",
    "demo.loading": "デモ音声を読み込み中…",
    "demo.progress": "デモ再生中 {done} / {total} 秒",
    "demo.done": "デモ音声の送信完了",
    "demo.failed": "デモ通話を再生できませんでした: {message}",
    "conn.idle": "未接続",
    "conn.connecting": "接続中…",
    "conn.open": "接続済み",
    "conn.reconnecting": "再接続中…",
    "conn.closed": "終了",
    "state.live": "通話中",
    "state.ending": "終了処理中",
    "state.ended": "通話終了",
    "state.interrupted": "中断",
    "status.lag": "認識遅延 {value} 秒",
    "status.lag_help": "音声を受け取ってから文字起こしされるまでの遅れ",
    "status.suggest": "提示 {value} ms",
    "status.suggest_help": "お客様の発話終了からおすすめ表示まで",
    "transcript.heading": "文字起こし",
    "transcript.empty": "通話を選ぶか、デモ通話を再生してください。",
    "leg.customer": "お客様",
    "leg.agent": "オペレーター",
    "suggest.heading": "おすすめの回答",
    "suggest.empty": "お客様の発話から関連するFAQを表示します。",
    "suggest.from_query": "「{query}」より",
    "card.copy": "コピー",
    "card.copied": "コピーしました",
    "card.useful": "役に立った",
    "card.not_useful": "役に立たなかった",
    "card.score": "スコア {value}",
    "card.expand": "全文を表示",
    "draft.heading": "返答の下書き",
    "draft.cites": "出典",
    "search.label": "ナレッジ検索",
    "search.placeholder": "ナレッジを検索（例: カード 紛失）",
    "search.button": "検索",
    "search.results": "検索結果",
    "search.none": "該当する記事はありません。",
    "notes.heading": "通話メモ",
    "notes.empty": "通話が終わると、ここにメモが自動で作成されます。",
    "notes.inquiry": "用件",
    "notes.actions": "対応内容",
    "notes.result": "結果",
    "notes.outcome": "結果の区分",
    "notes.follow_ups": "次回対応",
    "notes.entities": "エンティティ",
    "notes.add_line": "＋ 行を追加",
    "notes.remove_line": "この行を削除",
    "notes.turns": "発話 {turns}",
    "notes.turns_help": "元になった発話（カーソルを合わせると文字起こしで強調）",
    "notes.flagged": "要確認",
    "notes.flagged_help": "文字起こしと照合できませんでした。確認してください。",
    "notes.save": "保存",
    "notes.saving": "保存中…",
    "notes.saved": "保存しました",
    "notes.unsaved": "未保存の変更があります",
    "notes.insufficient": "内容が少ないため、メモを作成できませんでした。",
    "notes.meta": "{backend} ・ 作成 {latency} ms",
    "notes.edited": "編集済み",
    "outcome.resolved": "解決",
    "outcome.pending": "保留",
    "outcome.escalated": "エスカレーション",
    "outcome.unknown": "不明",
    "entity.date": "日付",
    "entity.time": "時刻",
    "entity.amount": "金額",
    "entity.count": "数量",
    "entity.product": "商品",
    "entity.phone": "電話番号",
    "entity.card": "カード番号",
    "entity.person": "人名",
    "entity.other": "その他",
    "error.generic": "エラー [{code}]: {message}",
    "error.network": "サーバーに接続できません。",
  },
  en: {
    "app.title": "Agent Assist",
    "lang.toggle_label": "日本語に切り替え",
    "call.heading": "Call",
    "call.id_label": "Call ID",
    "call.id_placeholder": "Type a call ID or pick a live call",
    "call.connect": "Connect",
    "call.bad_id": "A call ID may only contain letters, digits and . _ : -",
    "demo.play": "Play demo call",
    "demo.stop": "Stop demo",
    "demo.loading": "Loading the demo audio…",
    "demo.progress": "Playing demo {done} / {total} s",
    "demo.done": "Demo audio sent",
    "demo.failed": "The demo call could not be played: {message}",
    "conn.idle": "Not connected",
    "conn.connecting": "Connecting…",
    "conn.open": "Connected",
    "conn.reconnecting": "Reconnecting…",
    "conn.closed": "Closed",
    "state.live": "Live",
    "state.ending": "Ending",
    "state.ended": "Ended",
    "state.interrupted": "Interrupted",
    "status.lag": "ASR lag {value} s",
    "status.lag_help": "Delay between receiving audio and its transcript",
    "status.suggest": "Cards {value} ms",
    "status.suggest_help": "From the end of the customer's speech to the cards",
    "transcript.heading": "Transcript",
    "transcript.empty": "Pick a call or play the demo call.",
    "leg.customer": "Customer",
    "leg.agent": "Agent",
    "suggest.heading": "Suggested answers",
    "suggest.empty": "Relevant FAQ answers appear here as the customer speaks.",
    "suggest.from_query": "from “{query}”",
    "card.copy": "Copy",
    "card.copied": "Copied",
    "card.useful": "Helpful",
    "card.not_useful": "Not helpful",
    "card.score": "score {value}",
    "card.expand": "Show full answer",
    "draft.heading": "Reply draft",
    "draft.cites": "Sources",
    "search.label": "Knowledge search",
    "search.placeholder": "Search the knowledge base (e.g. lost card)",
    "search.button": "Search",
    "search.results": "Search results",
    "search.none": "No matching articles.",
    "notes.heading": "After-call notes",
    "notes.empty": "Notes are written here automatically when the call ends.",
    "notes.inquiry": "Inquiry",
    "notes.actions": "Actions taken",
    "notes.result": "Result",
    "notes.outcome": "Outcome",
    "notes.follow_ups": "Follow-up",
    "notes.entities": "Entities",
    "notes.add_line": "+ Add line",
    "notes.remove_line": "Remove this line",
    "notes.turns": "turns {turns}",
    "notes.turns_help": "Source turns (hover to highlight them in the transcript)",
    "notes.flagged": "unverified",
    "notes.flagged_help": "Could not be matched to the transcript; please check it.",
    "notes.save": "Save",
    "notes.saving": "Saving…",
    "notes.saved": "Saved",
    "notes.unsaved": "Unsaved changes",
    "notes.insufficient": "Too little was said to write notes.",
    "notes.meta": "{backend} · written in {latency} ms",
    "notes.edited": "edited",
    "outcome.resolved": "Resolved",
    "outcome.pending": "Pending",
    "outcome.escalated": "Escalated",
    "outcome.unknown": "Unknown",
    "entity.date": "Date",
    "entity.time": "Time",
    "entity.amount": "Amount",
    "entity.count": "Count",
    "entity.product": "Product",
    "entity.phone": "Phone",
    "entity.card": "Card",
    "entity.person": "Person",
    "entity.other": "Other",
    "error.generic": "Error [{code}]: {message}",
    "error.network": "Cannot reach the server.",
  },
};

export const LANGUAGES = Object.keys(STRINGS);
let current = "ja";
const listeners = new Set();

export function language() {
  return current;
}

export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS.ja[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** Translate every element under root that names a string. */
export function applyTranslations(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const [attr, data] of [["placeholder", "i18nPlaceholder"], ["title", "i18nTitle"],
    ["aria-label", "i18nAriaLabel"]]) {
    const selector = `[data-i18n-${attr === "aria-label" ? "aria-label" : attr}]`;
    for (const el of root.querySelectorAll(selector)) el.setAttribute(attr, t(el.dataset[data]));
  }
}

export function setLanguage(lang) {
  if (!STRINGS[lang]) return;
  current = lang;
  document.documentElement.lang = lang;
  applyTranslations();
  for (const fn of listeners) fn(lang);
}

/** Views that render dynamic text re-render when the language changes. */
export function onLanguageChange(fn) {
  listeners.add(fn);
}
