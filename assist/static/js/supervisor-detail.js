// One call opened from the wall, read-only: its own events socket from seq 1 (EventStream: resumes with
// after_seq after a drop), rendered by the widget's transcript and card views. The cards have no buttons and
// report nothing: feedback is the agent's.

import { CardList } from "./cards.js";
import { EventStream } from "./events.js";
import { t } from "./i18n.js";
import { renderNotes } from "./supervisor-recent.js";
import { alertChip } from "./supervisor-row.js";
import { TranscriptView } from "./transcript.js";

export class CallDetail {
  /**
   * @param {{[name: string]: HTMLElement}} els root, empty, body, call, agent, state, alerts, alertsEmpty,
   *   transcript, transcriptEmpty, cards, cardsEmpty, notesBox, notes
   * @param {(err: object) => void} onError
   */
  constructor(els, onError) {
    this.els = els;
    this.onError = onError;
    this.transcript = new TranscriptView(els.transcript, els.transcriptEmpty);
    this.cards = new CardList(els.cards, () => {}, { visible: 4 });
    this.stream = null;
    this.callId = null;
    this.callState = null;
    this.alerts = [];
    this.notes = null;
  }

  open(callId, agent) {
    this.close();
    this.callId = callId;
    this.callState = null;
    this.alerts = [];
    this.notes = null;
    this.transcript.reset();
    this.cards.reset();
    this.els.cardsEmpty.hidden = false;
    this.els.alerts.replaceChildren();
    this.els.alertsEmpty.hidden = false;
    this.els.notesBox.hidden = true;
    this.els.call.textContent = callId;
    this.els.agent.textContent = agent ?? "";
    this.els.empty.hidden = true;
    this.els.body.hidden = false;
    this.els.root.dataset.call = callId;
    this.stream = new EventStream(callId, {
      onEvent: (e) => this.#event(e),
      onState: (s) => (this.els.root.dataset.connection = s),
      onError: (err) => this.onError(err),
    });
    this.stream.connect();
    this.#renderState();
  }

  close() {
    this.stream?.close();
    this.stream = null;
    this.callId = null;
    this.els.body.hidden = true;
    this.els.empty.hidden = false;
    delete this.els.root.dataset.call;
  }

  #event(e) {
    switch (e.type) {
      case "call_started":
        this.callState = "live";
        break;
      case "transcript":
        this.transcript.apply(e);
        break;
      case "suggestions":
        this.cards.upsert(e.items, { query: e.query });
        this.els.cardsEmpty.hidden = this.cards.size > 0;
        break;
      case "alert":
        this.alerts.unshift(e);
        this.els.alerts.prepend(alertChip(e));
        this.els.alertsEmpty.hidden = true;
        break;
      case "status":
        this.callState = e.state;
        if (e.state === "interrupted") this.#notes(null);
        break;
      case "call_ended":
        this.callState = "ended";
        this.#notes(null);
        break;
      case "summary":
        this.#notes(e.notes);
        break;
      default:
        break;
    }
    this.#renderState();
  }

  /** The call ended (`null`: notes pending) or its notes came; pending never hides notes already shown. */
  #notes(notes) {
    if (notes) this.notes = notes;
    this.els.notesBox.hidden = false;
    renderNotes(this.els.notes, this.notes);
  }

  #renderState() {
    const el = this.els.state;
    el.textContent = this.callState ? t(`state.${this.callState}`) : "";
    el.dataset.state = this.callState ?? "";
  }

  relabel() {
    this.transcript.relabel();
    this.cards.relabel();
    this.els.alerts.replaceChildren(...this.alerts.map(alertChip));
    if (!this.els.notesBox.hidden) renderNotes(this.els.notes, this.notes);
    this.#renderState();
  }
}
