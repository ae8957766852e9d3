// One live call on the supervisor console: a table row built once and updated in place from the wall's events.
// Agent and duration come from `status` (also sent for every live call when the wall connects), the topic from
// `status.topic` or the newest top card, talk time from `status.talk_s` plus the finals since, the sentiment
// trend from `sentiment` events and the alerts from `alert` events.

import { language, t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
// 24×24 outline icons (stroke follows the text colour)
const ICONS = {
  clock: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 7v5l3 2",
  alert: "M12 3L2 20h20zM12 10v4M12 17v.5",
  topic: "M5 4h10l4 4v12H5zM9 11h6M9 15h6",
  close: "M6 6l12 12M18 6L6 18",
  headset: "M4 14v-2a8 8 0 0 1 16 0v2M4 14h3v5H4zM17 14h3v5h-3z",
};
const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 };
const VISIBLE_ALERTS = 3;
const SPARK_POINTS = 20;
const TREND_STEP = 0.15; // mean of the last 3 scores vs the 3 before: a change smaller than this is "steady"

export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

/** m:ss, or h:mm:ss past an hour. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds ?? 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** The alert's message in the page's language (alert events carry both). */
export function alertText(alert) {
  const message = alert.message;
  if (message && typeof message === "object") return message[language()] ?? message.ja ?? message.en ?? alert.rule;
  return message ?? alert.rule ?? "";
}

/** An alert as a chip: severity icon and colour, the message, the rule id on hover. */
export function alertChip(alert) {
  const chip = document.createElement("li");
  chip.className = "alert-chip";
  chip.dataset.severity = alert.severity ?? "info";
  chip.dataset.rule = alert.rule ?? "";
  const text = document.createElement("span");
  text.className = "alert-text";
  chip.append(icon("alert"), text);
  relabelChip(chip, alert);
  return chip;
}

function relabelChip(chip, alert) {
  chip.querySelector(".alert-text").textContent = alertText(alert);
  chip.title = `${t(`sup.severity.${chip.dataset.severity}`)} ・ ${alert.rule ?? ""}`;
}

/** Which way the customer's sentiment goes: the mean of the last 3 scores against the 3 before them. */
export function sentimentTrend(scores) {
  if (scores.length < 2) return "flat";
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const recent = scores.slice(-3);
  const before = scores.slice(-6, -3);
  const delta = mean(recent) - mean(before.length ? before : scores.slice(0, 1));
  return delta > TREND_STEP ? "better" : delta < -TREND_STEP ? "worse" : "flat";
}

export class CallRow {
  /**
   * @param {string} callId
   * @param {(callId: string) => void} onOpen
   */
  constructor(callId, onOpen) {
    this.callId = callId;
    this.agent = null;
    this.state = "live";
    this.durationBase = 0; // seconds at `durationAt` (performance.now()), so the clock ticks without the server
    this.durationAt = performance.now();
    this.topic = null;
    this.talkBase = {};
    this.talkSince = {};
    this.counted = new Set(); // finals already in the talk time
    this.alerts = [];
    this.sentiment = new Map(); // utterance_id -> {turn, score, label}
    this.seen = new Set(); // seqs of alert and sentiment events applied (the wall and a backfill may both send one)
    this.minWallSeq = null; // the first numbered event the wall delivered: a backfill stops there
    this.el = this.#build(onOpen);
    this.render();
  }

  #build(onOpen) {
    const row = document.createElement("tr");
    row.className = "call-row";
    row.dataset.call = this.callId;
    row.dataset.state = "live";
    row.tabIndex = 0;
    const cell = (cls, ...children) => {
      const td = document.createElement("td");
      td.className = cls;
      td.append(...children);
      row.append(td);
      return td;
    };
    const span = (cls) => {
      const s = document.createElement("span");
      s.className = cls;
      return s;
    };
    const who = span("who");
    who.append(span("agent-name"), span("call-id"));
    cell("agent", icon("headset"), who);
    cell("duration-cell", icon("clock"), span("duration"));
    cell("topic", icon("topic"), span("topic-text"));
    const spark = document.createElementNS(SVG, "svg");
    spark.setAttribute("class", "spark");
    spark.setAttribute("viewBox", "0 0 80 24");
    spark.setAttribute("aria-hidden", "true");
    cell("sentiment", spark, span("sentiment-text"));
    const bar = span("talk-bar");
    bar.append(span("talk-agent"));
    cell("talk", bar, span("talk-text"));
    const chips = document.createElement("ul");
    chips.className = "alert-chips";
    cell("alerts", chips, span("alerts-more"));
    row.querySelector(".call-id").textContent = this.callId;
    row.addEventListener("click", () => onOpen(this.callId));
    row.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        onOpen(this.callId);
      }
    });
    return row;
  }

  get duration() {
    const running = this.state === "live" ? (performance.now() - this.durationAt) / 1000 : 0;
    return this.durationBase + running;
  }

  #setDuration(seconds) {
    this.durationBase = seconds;
    this.durationAt = performance.now();
  }

  applyStarted(e) {
    this.agent = e.metadata?.agent ?? e.metadata?.owner ?? this.agent;
    this.#setDuration(0);
    this.render();
  }

  applyStatus(e) {
    if (e.agent) this.agent = e.agent;
    if (e.duration_s != null) this.#setDuration(e.duration_s);
    if (e.topic) this.topic = e.topic;
    if (e.talk_s) {
      this.talkBase = { ...e.talk_s };
      this.talkSince = {};
    }
    this.render();
  }

  applyTranscript(e) {
    if (!e.final || this.counted.has(e.utterance_id) || !e.text?.trim()) return;
    this.counted.add(e.utterance_id);
    this.talkSince[e.leg] = (this.talkSince[e.leg] ?? 0) + Math.max(0, (e.end ?? 0) - (e.start ?? 0));
    this.#renderTalk();
  }

  applySuggestions(e) {
    const top = (e.items ?? []).find((item) => item.rank === 1);
    if (!top) return;
    this.topic = top.title ?? top.article_id;
    this.#renderTopic();
  }

  /** Alert and sentiment events, from the wall or a backfill; each applied once (by seq). */
  applyOnce(e) {
    if (e.seq > 0) {
      if (this.seen.has(e.seq)) return;
      this.seen.add(e.seq);
    }
    if (e.type === "alert") {
      this.alerts.unshift(e);
      this.#renderAlerts();
    } else if (e.type === "sentiment") {
      this.sentiment.set(e.utterance_id, { turn: e.turn, score: e.score, label: e.label });
      this.#renderSentiment();
    }
  }

  applyEnded(e) {
    if (e.duration_s != null) this.#setDuration(e.duration_s);
    this.state = "ended";
    this.el.dataset.state = "ended";
    this.tick();
  }

  render() {
    this.#renderAgent();
    this.tick();
    this.#renderTopic();
    this.#renderSentiment();
    this.#renderTalk();
    this.#renderAlerts();
  }

  tick() {
    const el = this.el.querySelector(".duration");
    const seconds = Math.floor(this.duration);
    el.textContent = clock(seconds);
    el.dataset.seconds = String(seconds);
  }

  #renderAgent() {
    this.el.querySelector(".agent-name").textContent = this.agent ?? t("sup.unknown_agent");
    this.el.setAttribute("aria-label", t("sup.open_call", { call: this.callId }));
  }

  #renderTopic() {
    const el = this.el.querySelector(".topic-text");
    el.textContent = this.topic ?? t("sup.no_topic");
    el.classList.toggle("none", !this.topic);
  }

  get talk() {
    const out = {};
    for (const leg of ["agent", "customer"]) out[leg] = (this.talkBase[leg] ?? 0) + (this.talkSince[leg] ?? 0);
    return out;
  }

  #renderTalk() {
    const { agent, customer } = this.talk;
    const total = agent + customer;
    const share = total > 0 ? Math.round((100 * agent) / total) : 0;
    const text = this.el.querySelector(".talk-text");
    text.textContent = t("sup.talk", { agent: clock(agent), customer: clock(customer) });
    text.dataset.agent = agent.toFixed(1);
    text.dataset.customer = customer.toFixed(1);
    this.el.querySelector(".talk").title = t("sup.talk_help", { share });
    this.el.querySelector(".talk-agent").style.width = `${share}%`; // CSSOM: allowed by the page's CSP
  }

  #renderSentiment() {
    const points = [...this.sentiment.values()].sort((a, b) => a.turn - b.turn);
    const cell = this.el.querySelector(".sentiment");
    const text = cell.querySelector(".sentiment-text");
    const spark = cell.querySelector(".spark");
    spark.replaceChildren();
    if (!points.length) {
      cell.dataset.label = "";
      cell.dataset.trend = "";
      text.textContent = t("sup.no_sentiment");
      return;
    }
    const scores = points.map((p) => p.score).slice(-SPARK_POINTS);
    const trend = sentimentTrend(scores);
    const last = points.at(-1);
    cell.dataset.label = last.label;
    cell.dataset.trend = trend;
    text.textContent = `${t(`sup.label.${last.label}`)} ・ ${t(`sup.trend.${trend}`)}`;
    const x = (i) => (scores.length === 1 ? 40 : (i * 76) / (scores.length - 1) + 2);
    const y = (s) => 12 - Math.max(-1, Math.min(1, s)) * 10;
    const mid = document.createElementNS(SVG, "line");
    Object.entries({ x1: 0, y1: 12, x2: 80, y2: 12, class: "mid" }).forEach(([k, v]) => mid.setAttribute(k, v));
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", scores.map((s, i) => `${x(i).toFixed(1)},${y(s).toFixed(1)}`).join(" "));
    line.setAttribute("class", "trend-line");
    const dot = document.createElementNS(SVG, "circle");
    Object.entries({ cx: x(scores.length - 1), cy: y(scores.at(-1)), r: 2.5, class: `dot ${last.label}` })
      .forEach(([k, v]) => dot.setAttribute(k, v));
    spark.append(mid, line, dot);
  }

  #renderAlerts() {
    const worst = this.alerts.reduce((w, a) => (SEVERITY_RANK[a.severity] > SEVERITY_RANK[w] ? a.severity : w),
      this.alerts.length ? "info" : "");
    this.el.dataset.severity = worst;
    const list = this.el.querySelector(".alert-chips");
    list.replaceChildren(...this.alerts.slice(0, VISIBLE_ALERTS).map(alertChip));
    const more = this.alerts.length - VISIBLE_ALERTS;
    this.el.querySelector(".alerts-more").textContent = more > 0 ? t("sup.alerts_more", { n: more }) : "";
  }

  relabel() {
    this.render();
  }
}
