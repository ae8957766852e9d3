// Live two-speaker transcript. One <li> per utterance_id: partials update it in place (greyed) and the
// final replaces their text, so lines never jump or flicker. Finals are numbered in arrival order,
// which is the turn index after-call notes cite.

import { t } from "./i18n.js";

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds ?? 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * Put `text` into `el`, the `uncertain` spans (numbers the recognizer was unsure of) underlined with the
 * tooltip 要確認 and the `corrected` ones (words the vocabulary correction replaced) dotted, with what was heard
 * on hover. Spans index Unicode code points (the server is Python), hence Array.from, not UTF-16 slices.
 */
export function renderText(el, text, uncertain, corrected) {
  const spans = [
    ...(uncertain ?? []).map((s) => ({ ...s, kind: "uncertain", title: t("transcript.uncertain") })),
    ...(corrected ?? []).map((s) => ({ ...s, kind: "corrected", title: t("transcript.corrected", { heard: s.heard }) })),
  ].filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  if (!spans.length) {
    el.textContent = text;
    return;
  }
  const chars = Array.from(text ?? "");
  const parts = [];
  let pos = 0;
  for (const { start, end, kind, title, heard } of spans) {
    if (start < pos || end > chars.length) continue;
    if (start > pos) parts.push(chars.slice(pos, start).join(""));
    const mark = document.createElement("span");
    mark.className = kind;
    mark.title = title;
    if (kind === "corrected") mark.dataset.heard = heard;
    mark.textContent = chars.slice(start, end).join("");
    parts.push(mark);
    pos = end;
  }
  parts.push(chars.slice(pos).join(""));
  el.replaceChildren(...parts);
}

export class TranscriptView {
  constructor(list, empty) {
    this.list = list;
    this.empty = empty;
    this.lines = new Map();
    this.finals = 0;
  }

  reset() {
    this.lines.clear();
    this.finals = 0;
    this.list.replaceChildren();
    this.empty.hidden = false;
  }

  /**
   * @param {{utterance_id: string, leg: string, text: string, final: boolean, start: number,
   *          uncertain?: {start: number, end: number}[],
   *          corrected?: {start: number, end: number, heard: string}[]}} e
   */
  apply(e) {
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    let line = this.lines.get(e.utterance_id);
    if (!line) {
      line = this.#create(e);
      this.lines.set(e.utterance_id, line);
      this.#insert(line, e.start);
      this.empty.hidden = true;
    } else if (line.classList.contains("final") && !e.final) {
      return;
    }
    renderText(line.querySelector(".text"), e.text, e.uncertain, e.corrected);
    if (e.final && !line.classList.contains("final")) {
      line.classList.remove("partial");
      line.classList.add("final");
      line.dataset.turn = String(this.finals);
      line.querySelector(".turn").textContent = `#${this.finals}`;
      this.finals += 1;
    }
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }

  #create(e) {
    const line = document.createElement("li");
    line.className = `line ${e.leg} ${e.final ? "" : "partial"}`.trim();
    line.dataset.utterance = e.utterance_id;
    line.dataset.start = String(e.start ?? 0);
    const meta = document.createElement("div");
    meta.className = "meta";
    const who = document.createElement("span");
    who.className = "who";
    who.dataset.leg = e.leg;
    who.textContent = t(`leg.${e.leg}`);
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = clock(e.start);
    const turn = document.createElement("span");
    turn.className = "turn";
    meta.append(who, time, turn);
    const text = document.createElement("p");
    text.className = "text";
    line.append(meta, text);
    return line;
  }

  #insert(line, start) {
    const after = [...this.list.children].find((el) => Number(el.dataset.start) > (start ?? 0));
    this.list.insertBefore(line, after ?? null);
  }

  /** Mark the lines of these turn indexes (hovering a note line); null clears. */
  highlight(turns) {
    const wanted = new Set((turns ?? []).map(String));
    let first = null;
    for (const line of this.list.children) {
      const on = wanted.has(line.dataset.turn);
      line.classList.toggle("highlight", on);
      if (on && !first) first = line;
    }
    first?.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  relabel() {
    for (const who of this.list.querySelectorAll(".who")) who.textContent = t(`leg.${who.dataset.leg}`);
    for (const mark of this.list.querySelectorAll(".uncertain")) mark.title = t("transcript.uncertain");
    for (const mark of this.list.querySelectorAll(".corrected")) {
      mark.title = t("transcript.corrected", { heard: mark.dataset.heard });
    }
  }
}
