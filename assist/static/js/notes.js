// After-call notes editor. Renders a CallNotes object (summarize/notes.py) as editable lines, each
// with the transcript turns it came from (hover or focus highlights them) and a 要確認 mark when the
// fact check flagged it; saving sends the whole edited object back (PATCH, edited: true).

import { t } from "./i18n.js";

const LINE_FIELDS = ["inquiry", "actions", "follow_ups"];
const ENTITY_KINDS = [
  "date", "time", "amount", "count", "product", "phone", "card", "person", "place", "organization", "other",
];

export class NotesEditor {
  /**
   * @param {HTMLFormElement} form
   * @param {{highlight: (turns: number[]|null) => void, save: (notes: object) => Promise<void>}} hooks
   */
  constructor(form, { empty, meta, flags, saveState }, hooks) {
    this.form = form;
    this.empty = empty;
    this.meta = meta;
    this.flags = flags;
    this.saveState = saveState;
    this.hooks = hooks;
    this.notes = null;
    this.dirty = false;
    this.info = {};
    form.addEventListener("input", () => this.#markDirty());
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.#save();
    });
    for (const btn of form.querySelectorAll(".add-line")) {
      btn.addEventListener("click", () => {
        const lines = btn.closest(".note-section").querySelector(".lines");
        const row = this.#lineRow({ text: "", turns: [], flagged: false });
        lines.append(row);
        row.querySelector("textarea").focus();
        this.#markDirty();
      });
    }
    form.querySelector("#notes-outcome").addEventListener("change", () => this.#markDirty());
  }

  reset() {
    this.notes = null;
    this.dirty = false;
    this.form.hidden = true;
    this.empty.hidden = false;
    this.empty.textContent = t("notes.empty");
    this.meta.textContent = "";
    this.saveState.textContent = "";
  }

  /** Show notes from a summary event or the stored call; never overwrite the agent's unsaved edits. */
  show(notes, info = {}) {
    // The generated notes replayed after a reload must not hide what the agent already saved.
    if (this.dirty || (this.notes?.edited && !notes.edited)) return;
    this.notes = structuredClone(notes);
    this.info = info;
    if (notes.status === "insufficient_content") {
      this.form.hidden = true;
      this.empty.hidden = false;
      this.empty.textContent = t("notes.insufficient");
      return;
    }
    for (const field of LINE_FIELDS) {
      const lines = this.#section(field);
      lines.replaceChildren(...(notes[field] ?? []).map((line) => this.#lineRow(line)));
    }
    this.form.querySelector("#notes-outcome").value = notes.result ?? "unknown";
    const result = this.#section("result_line");
    result.replaceChildren(this.#lineRow(notes.result_line ?? { text: "", turns: [], flagged: false }, false));
    this.#section("entities").replaceChildren(...(notes.entities ?? []).map((e) => this.#entityRow(e)));
    // numbers the recognizer was unsure of (their lines say 要確認 in the text): listed for the agent to confirm
    const confirm = (notes.to_confirm ?? []).map((e) => {
      const li = document.createElement("li");
      li.className = "to-confirm";
      li.dataset.titleKey = "notes.to_confirm_help";
      li.title = t("notes.to_confirm_help");
      const label = document.createElement("span");
      this.#dyn(label, "notes.to_confirm", { text: e.text });
      li.append(label, " ", this.#sources(li, e.turns));
      return li;
    });
    this.flags.replaceChildren(...confirm, ...(notes.flags ?? []).map((flag) => {
      const li = document.createElement("li");
      li.textContent = flag;
      return li;
    }));
    this.#renderMeta();
    this.empty.hidden = true;
    this.form.hidden = false;
    this.saveState.textContent = notes.edited ? t("notes.edited") : "";
  }

  relabel() {
    if (!this.notes) return;
    this.#renderMeta();
    for (const el of this.form.querySelectorAll("[data-i18n-dyn]")) {
      const [key, vars] = JSON.parse(el.dataset.i18nDyn);
      el.textContent = t(key, vars);
    }
    for (const el of this.form.querySelectorAll("[data-title-key]")) {
      el.title = t(el.dataset.titleKey);
      if (el.hasAttribute("aria-label")) el.setAttribute("aria-label", el.title);
    }
    for (const opt of this.form.querySelectorAll("option[data-kind]")) opt.textContent = t(`entity.${opt.dataset.kind}`);
  }

  #renderMeta() {
    const { backend, latency_ms: latency } = { backend: this.notes.backend, ...this.info };
    this.meta.textContent = t("notes.meta", { backend, latency: Math.round(latency ?? 0) });
  }

  #section(field) {
    return this.form.querySelector(`.note-section[data-field="${field}"] .lines`);
  }

  #markDirty() {
    if (!this.notes) return;
    this.dirty = true;
    this.saveState.textContent = t("notes.unsaved");
  }

  #dyn(el, key, vars = {}) {
    el.dataset.i18nDyn = JSON.stringify([key, vars]);
    el.textContent = t(key, vars);
  }

  #sources(row, turns) {
    row.dataset.turns = JSON.stringify(turns ?? []);
    const on = () => this.hooks.highlight(turns ?? []);
    const off = () => this.hooks.highlight(null);
    row.addEventListener("mouseenter", on);
    row.addEventListener("mouseleave", off);
    row.addEventListener("focusin", on);
    row.addEventListener("focusout", off);
    const badge = document.createElement("span");
    badge.className = "turns";
    badge.dataset.titleKey = "notes.turns_help";
    badge.title = t("notes.turns_help");
    if (turns?.length) this.#dyn(badge, "notes.turns", { turns: turns.map((i) => `#${i}`).join(" ") });
    return badge;
  }

  #lineRow(line, removable = true) {
    const row = document.createElement("div");
    row.className = "note-line";
    row.dataset.flagged = String(Boolean(line.flagged));
    if (line.flagged) row.classList.add("flagged");
    const text = document.createElement("textarea");
    text.rows = 1;
    text.value = line.text ?? "";
    text.setAttribute("aria-label", line.text ?? "");
    const tools = document.createElement("div");
    tools.className = "line-tools";
    if (line.flagged) {
      const flag = document.createElement("span");
      flag.className = "flag";
      flag.dataset.titleKey = "notes.flagged_help";
      flag.title = t("notes.flagged_help");
      this.#dyn(flag, "notes.flagged");
      tools.append(flag);
    }
    tools.append(this.#sources(row, line.turns));
    if (removable) tools.append(this.#removeButton(row));
    row.append(text, tools);
    return row;
  }

  #removeButton(row) {
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove small ghost";
    remove.textContent = "×";
    remove.dataset.titleKey = "notes.remove_line";
    remove.title = t("notes.remove_line");
    remove.setAttribute("aria-label", t("notes.remove_line"));
    remove.addEventListener("click", () => {
      this.hooks.highlight(null);
      row.remove();
      this.#markDirty();
    });
    return remove;
  }

  #entityRow(entity) {
    const row = document.createElement("div");
    row.className = "note-line entity";
    const kind = document.createElement("select");
    kind.className = "kind";
    kind.setAttribute("aria-label", t("notes.entities"));
    for (const k of ENTITY_KINDS) {
      const opt = document.createElement("option");
      opt.value = k;
      opt.dataset.kind = k;
      opt.textContent = t(`entity.${k}`);
      kind.append(opt);
    }
    kind.value = entity.kind ?? "other";
    const text = document.createElement("input");
    text.className = "entity-text";
    text.value = entity.text ?? "";
    text.setAttribute("aria-label", entity.text ?? "");
    const value = document.createElement("input");
    value.className = "entity-value";
    value.value = entity.value ?? "";
    value.placeholder = "—";
    value.setAttribute("aria-label", "value");
    const tools = document.createElement("div");
    tools.className = "line-tools";
    tools.append(this.#sources(row, entity.turns), this.#removeButton(row));
    row.append(kind, text, value, tools);
    return row;
  }

  /** The edited notes as a full CallNotes object. */
  collect() {
    const readLine = (row) => ({
      text: row.querySelector("textarea").value.trim(),
      turns: JSON.parse(row.dataset.turns || "[]"),
      flagged: row.dataset.flagged === "true",
    });
    const notes = { ...this.notes, edited: true };
    for (const field of LINE_FIELDS) {
      notes[field] = [...this.#section(field).children].map(readLine).filter((l) => l.text);
    }
    notes.result = this.form.querySelector("#notes-outcome").value;
    const resultRow = this.#section("result_line").firstElementChild;
    const resultLine = resultRow ? readLine(resultRow) : null;
    notes.result_line = resultLine?.text ? resultLine : null;
    notes.entities = [...this.#section("entities").children].map((row) => ({
      kind: row.querySelector(".kind").value,
      text: row.querySelector(".entity-text").value.trim(),
      value: row.querySelector(".entity-value").value.trim() || null,
      turns: JSON.parse(row.dataset.turns || "[]"),
    })).filter((e) => e.text);
    return notes;
  }

  async #save() {
    if (!this.notes) return;
    const notes = this.collect();
    this.saveState.textContent = t("notes.saving");
    try {
      await this.hooks.save(notes);
      this.notes = notes;
      this.dirty = false;
      this.saveState.textContent = t("notes.saved");
    } catch (err) {
      this.saveState.textContent = t("error.generic", { code: err.code ?? "error", message: err.message });
    }
  }
}
