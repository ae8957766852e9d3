// Knowledge cards. A card is keyed by article id and updated in place (confidence, snippet, query), and a
// newer suggestion moves the existing node to the top instead of re-creating it: no flicker, and the
// agent's thumbs up/down state stays on the card. A suggested article reports `shown` once per call, when its
// card is first rendered, so feedback rates have a denominator. Cards show the calibrated confidence as a word
// (高/中/低, High/Medium/Low) with a colour, never the raw ranking score; icons are inline SVG, so they render
// the same without an emoji font.

import { t } from "./i18n.js";

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Plain-http deployments have no async clipboard; a selected textarea still copies.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

const SVG = "http://www.w3.org/2000/svg";
// 24×24 outline thumbs (stroke follows the button's text colour).
const THUMB_UP = "M7 10v11H3V10h4zm0 0l4-8c1.7 0 3 1.3 3 3v3h5.5c1.2 0 2.1 1.1 1.9 2.3l-1.4 8c-.2 1-1 1.7-2 1.7H7";
const CONFIDENCE = new Set(["high", "medium", "low"]);

function icon(path, flip = false) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const shape = document.createElementNS(SVG, "path");
  shape.setAttribute("d", path);
  shape.setAttribute("fill", "none");
  shape.setAttribute("stroke", "currentColor");
  shape.setAttribute("stroke-width", "2");
  shape.setAttribute("stroke-linejoin", "round");
  if (flip) shape.setAttribute("transform", "rotate(180 12 12)");
  svg.append(shape);
  return svg;
}

function button(cls, label, content) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.dataset.i18nAriaLabel = label;
  b.setAttribute("aria-label", t(label));
  b.title = t(label);
  if (content instanceof Node) b.append(content);
  else b.textContent = content ?? t(label);
  return b;
}

export class CardList {
  /**
   * @param {HTMLElement} list
   * @param {(articleId: string, action: string) => void} onFeedback
   */
  constructor(list, onFeedback, { visible = Infinity } = {}) {
    this.list = list;
    this.onFeedback = onFeedback;
    this.cards = new Map();
    this.verdicts = new Map();
    this.reported = new Set(); // article ids whose `shown` was sent, or found stored after a reload
    // Only the newest cards stay open; older ones fold behind one button instead of pushing the
    // draft off screen during a long call.
    this.visible = visible;
    this.expanded = false;
    this.more = document.createElement("button");
    this.more.type = "button";
    this.more.className = "more small ghost";
    this.more.hidden = true;
    this.more.addEventListener("click", () => {
      this.expanded = !this.expanded;
      this.#fold();
    });
    list.after(this.more);
  }

  reset() {
    this.cards.clear();
    this.verdicts.clear();
    this.reported.clear();
    this.list.replaceChildren();
    this.expanded = false;
    this.#fold();
  }

  #fold() {
    const cards = [...this.list.children];
    cards.forEach((card, i) => (card.hidden = !this.expanded && i >= this.visible));
    const folded = Math.max(0, cards.length - this.visible);
    this.more.hidden = folded === 0;
    this.more.setAttribute("aria-expanded", String(this.expanded));
    this.more.textContent = this.expanded ? t("suggest.fewer") : t("suggest.more", { n: folded });
  }

  get size() {
    return this.cards.size;
  }

  /**
   * Show these items on top, best first; cards already shown are updated and moved, not rebuilt.
   * `replace` lists (search results) are the agent's own look-ups, not suggestions: they report no `shown`.
   */
  upsert(items, { query = null, replace = false } = {}) {
    if (replace) {
      for (const [id, card] of this.cards) {
        if (!items.some((item) => item.article_id === id)) {
          card.remove();
          this.cards.delete(id);
        }
      }
    }
    const ordered = [...items].sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
    let anchor = this.list.firstChild;
    const created = [];
    for (const item of ordered) {
      let card = this.cards.get(item.article_id);
      if (!card) {
        card = this.#create(item);
        this.cards.set(item.article_id, card);
        if (!replace) created.push(item.article_id);
      } else if (!replace) {
        card.classList.remove("fresh");
        void card.offsetWidth;
        card.classList.add("fresh");
      }
      this.#fill(card, item, query);
      if (card !== anchor) this.list.insertBefore(card, anchor);
      anchor = card.nextSibling;
    }
    this.#fold();
    for (const id of created) {
      if (this.reported.has(id)) continue;
      this.reported.add(id);
      this.onFeedback(id, "shown");
    }
  }

  /** Restore feedback the server already recorded (after a reload), now or when the card arrives. */
  markFeedback(articleId, action) {
    if (action === "shown") this.reported.add(articleId);
    if (action !== "used" && action !== "dismissed") return;
    this.verdicts.set(articleId, action);
    const card = this.cards.get(articleId);
    if (card) this.#showVerdict(card, action);
  }

  #showVerdict(card, action) {
    card.querySelector(".up").setAttribute("aria-pressed", String(action === "used"));
    card.querySelector(".down").setAttribute("aria-pressed", String(action === "dismissed"));
    card.classList.toggle("dismissed", action === "dismissed");
  }

  #create(item) {
    const card = document.createElement("li");
    card.className = "card fresh";
    card.dataset.article = item.article_id;
    card.innerHTML = `
      <div class="card-head">
        <button type="button" class="title" aria-expanded="false"></button>
        <span class="confidence" hidden></span>
      </div>
      <div class="card-sub"><span class="category"></span><span class="id"></span><span class="query"></span></div>
      <p class="snippet"></p>
      <div class="card-actions"></div>`;
    const copy = button("copy small", "card.copy");
    const up = button("up small ghost", "card.useful", icon(THUMB_UP));
    const down = button("down small ghost", "card.not_useful", icon(THUMB_UP, true));
    up.setAttribute("aria-pressed", "false");
    down.setAttribute("aria-pressed", "false");
    card.querySelector(".card-actions").append(copy, up, down);

    const title = card.querySelector(".title");
    title.addEventListener("click", () => {
      const open = card.classList.toggle("open");
      title.setAttribute("aria-expanded", String(open));
      if (open) this.onFeedback(item.article_id, "clicked");
    });
    copy.addEventListener("click", async () => {
      const text = card.querySelector(".snippet").textContent;
      if (await copyText(text)) {
        copy.textContent = t("card.copied");
        setTimeout(() => (copy.textContent = t("card.copy")), 1500);
      }
      this.onFeedback(item.article_id, "copied");
    });
    for (const [btn, action] of [[up, "used"], [down, "dismissed"]]) {
      btn.addEventListener("click", () => {
        this.verdicts.set(item.article_id, action);
        this.#showVerdict(card, action);
        this.onFeedback(item.article_id, action);
      });
    }
    const verdict = this.verdicts.get(item.article_id);
    if (verdict) this.#showVerdict(card, verdict);
    return card;
  }

  #fill(card, item, query) {
    card.querySelector(".title").textContent = item.title ?? item.article_id;
    card.querySelector(".snippet").textContent = item.snippet ?? item.answer ?? "";
    if (CONFIDENCE.has(item.confidence)) card.dataset.confidence = item.confidence;
    this.#showConfidence(card);
    card.querySelector(".category").textContent = item.category ?? "";
    card.querySelector(".id").textContent = item.article_id;
    if (query) card.dataset.query = query;
    card.querySelector(".query").textContent = card.dataset.query
      ? t("suggest.from_query", { query: card.dataset.query }) : "";
    card.dataset.rank = String(item.rank ?? "");
  }

  /** The calibrated band as a word and a colour; search results (no band) show none. */
  #showConfidence(card) {
    const badge = card.querySelector(".confidence");
    const level = card.dataset.confidence;
    badge.hidden = !level;
    if (!level) return;
    badge.dataset.level = level;
    badge.textContent = t(`card.confidence.${level}`);
    badge.title = t("card.confidence_hint", { level: badge.textContent });
  }

  relabel() {
    for (const el of this.list.querySelectorAll("[data-i18n-aria-label]")) {
      el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
      el.title = t(el.dataset.i18nAriaLabel);
    }
    for (const el of this.list.querySelectorAll(".copy")) el.textContent = t("card.copy");
    for (const card of this.cards.values()) this.#showConfidence(card);
    this.#fold();
    for (const card of this.cards.values()) {
      if (card.dataset.query) {
        card.querySelector(".query").textContent = t("suggest.from_query", { query: card.dataset.query });
      }
    }
  }
}
