// Alert banners for the agent: `alert` events whose rule says notify_agent (docs/ALERTS.md). Critical ones stay
// until dismissed; warnings and notes fade after a while. Every alert reaches the supervisor wall either way.

import { language, t } from "./i18n.js";

const SHOWN_FOR_MS = { info: 12000, warning: 25000 };
const MAX_BANNERS = 3;
const STALE_S = 120; // a replay after a reload does not bring back alerts from minutes ago

export class AlertBanners {
  /** @param {HTMLElement} root the banner area (role=region, aria-live) */
  constructor(root) {
    this.root = root;
    this.banners = new Map(); // seq -> {event, el, timer}
  }

  show(event) {
    if (!event.notify_agent || this.banners.has(event.seq)) return;
    if (event.ts && Date.now() / 1000 - event.ts > STALE_S) return;
    const el = document.createElement("div");
    el.className = "alert-banner";
    el.dataset.severity = event.severity;
    el.dataset.rule = event.rule;
    el.setAttribute("role", event.severity === "critical" ? "alert" : "status");
    const badge = document.createElement("span");
    badge.className = "alert-severity";
    const text = document.createElement("span");
    text.className = "alert-message";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "alert-close";
    close.textContent = "×";
    close.addEventListener("click", () => this.dismiss(event.seq));
    el.append(badge, text, close);
    const entry = { event, el, timer: null };
    this.#label(entry);
    this.banners.set(event.seq, entry);
    this.root.prepend(el);
    this.root.hidden = false;
    const ttl = SHOWN_FOR_MS[event.severity];
    if (ttl) entry.timer = setTimeout(() => this.dismiss(event.seq), ttl);
    for (const seq of [...this.banners.keys()].slice(0, -MAX_BANNERS)) this.dismiss(seq);
  }

  dismiss(seq) {
    const entry = this.banners.get(seq);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.el.remove();
    this.banners.delete(seq);
    this.root.hidden = this.banners.size === 0;
  }

  reset() {
    for (const seq of [...this.banners.keys()]) this.dismiss(seq);
  }

  relabel() {
    for (const entry of this.banners.values()) this.#label(entry);
  }

  #label({ event, el }) {
    el.querySelector(".alert-severity").textContent = t(`alert.severity.${event.severity}`);
    el.querySelector(".alert-message").textContent = event.message?.[language()] ?? event.message?.ja ?? event.rule;
    const close = el.querySelector(".alert-close");
    close.title = t("alert.dismiss");
    close.setAttribute("aria-label", t("alert.dismiss"));
  }
}
