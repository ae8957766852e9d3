// The wall: every live call as a row, every ended call moved to the recent list. Events come from
// `WS /ws/events` (every call's events, no replay). A call first seen mid-way (the page opened during it) gets
// its earlier alerts and sentiment from a short backfill on its own events socket, which stops where the wall's
// events begin; agent, duration, topic and talk time need none (the `status` sent on connect carries them).

import { openSocket } from "./api.js";
import { t } from "./i18n.js";
import { CallRow } from "./supervisor-row.js";

const ONCE = new Set(["alert", "sentiment"]);
const BACKFILL_MAX_MS = 30000;

export class CallBoard {
  /**
   * @param {{table: HTMLElement, body: HTMLElement, empty: HTMLElement, count: HTMLElement}} live
   * @param {import("./supervisor-recent.js").RecentCalls} recent
   * @param {(callId: string) => void} onOpen
   */
  constructor(live, recent, onOpen) {
    this.live = live;
    this.recent = recent;
    this.onOpen = onOpen;
    this.rows = new Map();
    this.ended = new Set(); // calls that ended while the page watched: late events never bring a row back
    this.backfills = new Map();
    this.selected = null;
    this.#renderCount();
  }

  /** One event from the wall. */
  handle(e) {
    const id = e.call_id;
    if (!id || id === "*") return;
    if (e.type === "summary") {
      this.#summary(e);
      return;
    }
    if (e.type === "call_started" && (this.ended.has(id) || this.recent.has(id))) {
      this.ended.delete(id); // its owner reconnected: the same call goes on
      this.recent.remove(id);
    }
    if (this.ended.has(id) || this.recent.has(id)) return;
    if (e.type === "call_ended" || (e.type === "status" && e.state === "interrupted")) {
      this.#end(e);
      return;
    }
    let row = this.rows.get(id);
    if (!row) {
      row = this.#add(id);
      if (e.type !== "call_started") this.#backfill(row);
    }
    if (e.seq > 0 && row.minWallSeq === null) row.minWallSeq = e.seq;
    this.#apply(row, e);
  }

  #apply(row, e) {
    if (e.type === "call_started") row.applyStarted(e);
    else if (e.type === "status") row.applyStatus(e);
    else if (e.type === "transcript") row.applyTranscript(e);
    else if (e.type === "suggestions") row.applySuggestions(e);
    else if (ONCE.has(e.type)) row.applyOnce(e);
  }

  #add(id) {
    const row = new CallRow(id, (callId) => this.onOpen(callId));
    this.rows.set(id, row);
    this.live.body.append(row.el);
    if (this.selected === id) row.el.classList.add("selected");
    this.#renderCount();
    return row;
  }

  #end(e) {
    const row = this.rows.get(e.call_id);
    row?.applyEnded(e);
    this.ended.add(e.call_id);
    this.#stopBackfill(e.call_id);
    this.recent.upsert({
      id: e.call_id, agent: row?.agent ?? undefined, ended: e.ts,
      duration_s: e.type === "call_ended" ? e.duration_s : row?.duration, state: e.state ?? "ended",
    });
    row?.el.remove();
    this.rows.delete(e.call_id);
    this.#renderCount();
  }

  #summary(e) {
    if (!this.recent.has(e.call_id)) {
      const row = this.rows.get(e.call_id);
      this.recent.upsert({ id: e.call_id, agent: row?.agent ?? undefined, ended: e.ts, duration_s: row?.duration });
      row?.el.remove();
      this.rows.delete(e.call_id);
      this.ended.add(e.call_id);
      this.#renderCount();
    }
    this.recent.setNotes(e.call_id, e.notes);
  }

  /** Earlier alerts and sentiment of a call first seen mid-way, up to where the wall's own events begin. */
  #backfill(row) {
    const id = row.callId;
    const socket = openSocket(`/ws/calls/${encodeURIComponent(id)}/events?after_seq=0`);
    const timer = setTimeout(() => this.#stopBackfill(id), BACKFILL_MAX_MS);
    this.backfills.set(id, { socket, timer });
    socket.onmessage = (msg) => {
      let e;
      try {
        e = JSON.parse(msg.data);
      } catch {
        return;
      }
      if (e.type === "error" || !(e.seq > 0)) return;
      if (row.minWallSeq !== null && e.seq >= row.minWallSeq) {
        this.#stopBackfill(id);
        return;
      }
      if (ONCE.has(e.type)) row.applyOnce(e);
    };
    socket.onclose = () => this.#stopBackfill(id);
  }

  #stopBackfill(id) {
    const fill = this.backfills.get(id);
    if (!fill) return;
    this.backfills.delete(id);
    clearTimeout(fill.timer);
    fill.socket.onclose = null;
    fill.socket.close();
  }

  /** Ended calls from REST; a row still shown for one of them (the wall missed its end) moves over. */
  setRecent(calls) {
    for (const call of calls) {
      const row = this.rows.get(call.id);
      this.recent.upsert({
        id: call.id, agent: call.metadata?.agent ?? call.metadata?.owner ?? row?.agent ?? undefined,
        ended: call.ended ?? undefined, duration_s: call.ended && call.started ? call.ended - call.started : undefined,
        state: call.state, notes: call.notes ?? null,
      });
      if (row) {
        row.el.remove();
        this.rows.delete(call.id);
        this.#stopBackfill(call.id);
      }
      this.ended.add(call.id);
    }
    this.#renderCount();
  }

  select(callId) {
    this.selected = callId;
    for (const [id, row] of this.rows) {
      row.el.classList.toggle("selected", id === callId);
      row.el.setAttribute("aria-selected", String(id === callId));
    }
    for (const el of this.recent.list.children) el.classList.toggle("selected", el.dataset.call === callId);
  }

  agentOf(callId) {
    return this.rows.get(callId)?.agent ?? this.recent.items.get(callId)?.call.agent ?? null;
  }

  tick() {
    for (const row of this.rows.values()) row.tick();
  }

  #renderCount() {
    this.live.empty.hidden = this.rows.size > 0;
    this.live.table.hidden = this.rows.size === 0;
    this.live.count.textContent = t("sup.count", { n: this.rows.size });
  }

  relabel() {
    for (const row of this.rows.values()) row.relabel();
    this.recent.relabel();
    this.#renderCount();
  }
}
