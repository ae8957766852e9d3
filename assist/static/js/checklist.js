// The call's guidance checklist (`checklist` events, and `notes.checklist` of the summary): each item shows done
// ✓ with the transcript turn that did it (#n, as the transcript numbers finals; hover highlights it) or missing.
// The server sends the whole list each time, so a replayed stream ends with the current state.

import { language, t } from "./i18n.js";

export class ChecklistView {
  /**
   * @param {HTMLElement} box the section (hidden until the first list arrives)
   * @param {HTMLOListElement} list
   * @param {HTMLElement} count "done / total"
   * @param {(turns: number[]|null) => void} highlight
   */
  constructor(box, list, count, highlight) {
    Object.assign(this, { box, list, count, highlight });
    this.items = [];
  }

  reset() {
    this.show([]);
  }

  /** @param {{id: string, label: {ja: string, en: string}, done: boolean, turn: number|null}[]} items */
  show(items) {
    this.items = items ?? [];
    this.relabel();
  }

  relabel() {
    this.box.hidden = this.items.length === 0;
    const done = this.items.filter((item) => item.done).length;
    this.count.textContent = t("checklist.count", { done, total: this.items.length });
    this.list.replaceChildren(...this.items.map((item) => this.#row(item)));
  }

  #row(item) {
    const li = document.createElement("li");
    li.className = "check-item";
    li.dataset.id = item.id;
    li.dataset.done = String(Boolean(item.done));
    const mark = document.createElement("span");
    mark.className = "check-mark";
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = item.done ? "✓" : "○";
    const label = document.createElement("span");
    label.className = "check-label";
    label.textContent = item.label?.[language()] ?? item.label?.ja ?? item.id;
    const state = document.createElement("span");
    state.className = "check-state";
    state.textContent = !item.done ? t("checklist.missing")
      : item.turn == null ? t("checklist.done") : t("checklist.done_at", { turn: item.turn });
    li.append(mark, label, state);
    if (item.done && item.turn != null) {
      li.addEventListener("mouseenter", () => this.highlight([item.turn]));
      li.addEventListener("mouseleave", () => this.highlight(null));
    }
    return li;
  }
}
