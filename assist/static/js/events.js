// One call's event socket. It remembers the last seq it handed on and reconnects with
// ?after_seq=N, so a dropped connection (or a `lagging` disconnect) loses and repeats nothing.

import { AUTH_ERRORS, openSocket } from "./api.js";

const RETRYABLE_BEFORE_START = new Set(["unknown_call", "not_ready"]);
const MAX_BACKOFF_MS = 5000;

export class EventStream {
  /**
   * @param {string} callId
   * @param {{onEvent: (e: object) => void, onState: (s: string) => void, onError: (e: object) => void}} handlers
   * @param {{waitForCall?: boolean}} options waitForCall: keep retrying `unknown_call` (the demo opens
   *   the events socket while its audio socket is still starting the call).
   */
  constructor(callId, handlers, { waitForCall = false } = {}) {
    this.callId = callId;
    this.handlers = handlers;
    this.waitForCall = waitForCall;
    this.lastSeq = 0;
    this.finished = false;
    this.ended = false;
    this.closed = false;
    this.attempt = 0;
    this.socket = null;
    this.timer = null;
  }

  connect() {
    if (this.closed) return;
    this.handlers.onState(this.attempt === 0 ? "connecting" : "reconnecting");
    const path = `/ws/calls/${encodeURIComponent(this.callId)}/events?after_seq=${this.lastSeq}`;
    const socket = openSocket(path);
    this.socket = socket;
    socket.onopen = () => this.handlers.onState("open");
    socket.onmessage = (msg) => this.#receive(msg);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      // After call_ended the server closes once the summary is out (or none could be written):
      // a few retries cover a drop in between, then stop.
      if (this.closed || this.finished || (this.ended && this.attempt >= 3)) {
        this.handlers.onState("closed");
        return;
      }
      this.#retry();
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.close();
    this.socket = null;
  }

  #retry() {
    this.attempt += 1;
    this.handlers.onState("reconnecting");
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(this.attempt, 5));
    this.timer = setTimeout(() => this.connect(), delay);
  }

  #receive(msg) {
    let event;
    try {
      event = JSON.parse(msg.data);
    } catch {
      this.handlers.onError({ code: "bad_json", message: "unreadable event" });
      return;
    }
    if (event.type === "error") {
      this.#error(event);
      return;
    }
    if (event.seq > 0) {
      if (event.seq <= this.lastSeq) return;
      this.lastSeq = event.seq;
    }
    if (!this.ended) this.attempt = 0;
    if (event.type === "summary") this.finished = true;
    // a call whose worker died ends with status `interrupted` (no call_ended), then its notes
    if (event.type === "call_ended" || (event.type === "status" && event.state === "interrupted")) this.ended = true;
    this.handlers.onEvent(event);
  }

  #error(event) {
    const waiting = this.lastSeq === 0 && this.waitForCall && RETRYABLE_BEFORE_START.has(event.code);
    // `lagging` asks for a reconnect; other fatal errors (unknown call, no key) would only repeat.
    if (!waiting && (AUTH_ERRORS.has(event.code) || (event.fatal && event.code !== "lagging"))) {
      this.finished = true;
    }
    if (!waiting) this.handlers.onError(event);
  }
}
