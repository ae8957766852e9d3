// Recently ended calls with their notes (read-only), newest first: filled from REST when the page opens
// (GET /api/supervisor/recent) and from the wall as calls end (`call_ended`, then `summary` with the notes).

import { language, t } from "./i18n.js";
import { clock, icon } from "./supervisor-row.js";

const KEEP = 20;
const SECTIONS = [["inquiry", "notes.inquiry"], ["actions", "notes.actions"], ["follow_ups", "notes.follow_ups"]];

function lineItem(line) {
  const li = document.createElement("li");
  li.textContent = line.text ?? "";
  if (line.flagged) {
    li.classList.add("flagged");
    const flag = document.createElement("span");
    flag.className = "flag";
    flag.textContent = t("notes.flagged");
    flag.title = t("notes.flagged_help");
    li.append(" ", flag);
  }
  return li;
}

/** CallNotes as read-only sections (用件 / 対応内容 / 結果 / 次回対応); `null` while they are being written. */
export function renderNotes(el, notes) {
  el.replaceChildren();
  if (notes === undefined || notes === null) {
    el.dataset.state = "pending";
    el.textContent = t("sup.notes_pending");
    return;
  }
  if (notes.status === "insufficient_content") {
    el.dataset.state = "insufficient";
    el.textContent = t("notes.insufficient");
    return;
  }
  el.dataset.state = "ready";
  const dl = document.createElement("dl");
  dl.className = "notes-view";
  const add = (field, label, content) => {
    const dt = document.createElement("dt");
    dt.textContent = t(label);
    const dd = document.createElement("dd");
    dd.dataset.field = field;
    dd.append(content);
    dl.append(dt, dd);
  };
  const list = (lines) => {
    const ul = document.createElement("ul");
    ul.append(...lines.map(lineItem));
    return ul;
  };
  for (const [field, label] of SECTIONS.slice(0, 2)) {
    if (notes[field]?.length) add(field, label, list(notes[field]));
  }
  const result = document.createElement("span");
  result.className = "outcome";
  result.dataset.outcome = notes.result ?? "unknown";
  result.textContent = t(`outcome.${notes.result ?? "unknown"}`);
  const resultBox = document.createElement("div");
  resultBox.append(result);
  if (notes.result_line?.text) resultBox.append(" ", notes.result_line.text);
  add("result", "notes.result", resultBox);
  const [field, label] = SECTIONS[2];
  if (notes[field]?.length) add(field, label, list(notes[field]));
  el.append(dl);
}

export class RecentCalls {
  /**
   * @param {HTMLElement} list
   * @param {HTMLElement} empty
   * @param {(callId: string) => void} onOpen
   */
  constructor(list, empty, onOpen) {
    this.list = list;
    this.empty = empty;
    this.onOpen = onOpen;
    this.items = new Map(); // call id -> {el, call}
  }

  has(callId) {
    return this.items.has(callId);
  }

  /**
   * Add or update one ended call. `call`: {id, agent, ended (epoch s), duration_s, notes (undefined: pending)}.
   * Newer calls go on top; the list keeps the last KEEP.
   */
  upsert(call) {
    let item = this.items.get(call.id);
    if (!item) {
      item = { el: this.#create(call.id), call: {} };
      this.items.set(call.id, item);
      const after = [...this.items.values()].find((o) => o !== item && (o.call.ended ?? 0) < (call.ended ?? 0));
      this.list.insertBefore(item.el, after?.el ?? null);
      while (this.items.size > KEEP) {
        const [oldest] = [...this.items.entries()].sort((a, b) => (a[1].call.ended ?? 0) - (b[1].call.ended ?? 0));
        oldest[1].el.remove();
        this.items.delete(oldest[0]);
      }
    }
    for (const [k, v] of Object.entries(call)) if (v !== undefined) item.call[k] = v;
    this.#fill(item);
    this.empty.hidden = this.items.size > 0;
  }

  remove(callId) {
    this.items.get(callId)?.el.remove();
    this.items.delete(callId);
    this.empty.hidden = this.items.size > 0;
  }

  setNotes(callId, notes) {
    const item = this.items.get(callId);
    if (!item) return false;
    item.call.notes = notes;
    this.#fill(item);
    return true;
  }

  #create(callId) {
    const li = document.createElement("li");
    li.className = "recent-call";
    li.dataset.call = callId;
    li.innerHTML = `
      <button type="button" class="recent-head">
        <span class="agent-name"></span><span class="call-id"></span>
        <span class="duration"></span><span class="ended-at"></span>
      </button>
      <div class="recent-notes"></div>`;
    const head = li.querySelector(".recent-head");
    head.prepend(icon("headset"));
    head.addEventListener("click", () => this.onOpen(callId));
    return li;
  }

  #fill(item) {
    const { el, call } = item;
    el.querySelector(".agent-name").textContent = call.agent ?? t("sup.unknown_agent");
    el.querySelector(".call-id").textContent = call.id;
    el.querySelector(".duration").textContent = call.duration_s != null ? clock(call.duration_s) : "";
    const ended = call.ended ? new Date(call.ended * 1000) : null;
    el.querySelector(".ended-at").textContent = ended
      ? t("sup.ended_at", { time: ended.toLocaleTimeString(language() === "ja" ? "ja-JP" : "en-US") }) : "";
    el.dataset.state = call.state ?? "ended";
    renderNotes(el.querySelector(".recent-notes"), call.notes);
  }

  relabel() {
    for (const item of this.items.values()) this.#fill(item);
  }
}
