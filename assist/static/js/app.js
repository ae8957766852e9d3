// Wires the views to one call's event stream. The call id lives in the URL (?call=ID), so a reload
// reconnects to the same call and replays its events from seq 1: nothing is lost.

import { AlertBanners } from "./alerts.js";
import { api, ApiError, AUTH_ERRORS, getApiKey, listOf, setApiKey } from "./api.js";
import { CardList, copyText } from "./cards.js";
import { ChecklistView } from "./checklist.js";
import { DemoPlayer } from "./demo.js";
import { EventStream } from "./events.js";
import { applyTranslations, language, onLanguageChange, setLanguage, t } from "./i18n.js";
import { NotesEditor } from "./notes.js";
import { TranscriptView } from "./transcript.js";

const $ = (id) => document.getElementById(id);
const CALL_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const LIVE_POLL_MS = 5000;
const params = new URLSearchParams(location.search);
const DEMO_SPEED = Math.min(8, Math.max(1, Number(params.get("demo_speed")) || 1));

const state = { callId: null, stream: null, callState: null, connection: "idle", lagS: null, suggestMs: null };

const transcript = new TranscriptView($("transcript"), $("transcript-empty"));
const alerts = new AlertBanners($("alerts"));
const suggestions = new CardList($("suggestions"), (id, action) => sendFeedback(id, action), { visible: 4 });
const searchResults = new CardList($("search-results"), (id, action) => sendFeedback(id, action));
const checklist = new ChecklistView($("checklist"), $("checklist-items"), $("checklist-count"),
  (turns) => transcript.highlight(turns));
const notes = new NotesEditor(
  $("notes-form"),
  { empty: $("notes-empty"), meta: $("notes-meta"), flags: $("notes-flags"), saveState: $("notes-save-state") },
  {
    highlight: (turns) => transcript.highlight(turns),
    save: (body) => api.saveSummary(state.callId, body),
  },
);
const demo = new DemoPlayer({
  onProgress: (done, total) => {
    $("demo-progress").textContent = t("demo.progress", { done: done.toFixed(0), total: total.toFixed(0) });
  },
  onError: (err) => {
    // A refused demo call will never exist: stop waiting for it on the events socket.
    if (err.fatal) stopWaitingForCall();
    showError(err);
  },
});

function stopWaitingForCall() {
  if (state.stream) state.stream.waitForCall = false;
}

function showError(err) {
  if (AUTH_ERRORS.has(err.code)) {
    $("key-form").hidden = false;
    if (!getApiKey()) {
      err = { code: err.code, message: t("key.needed") };
      $("api-key").focus();
    }
  }
  const box = $("alert");
  box.textContent = err.code === "network" ? t("error.network")
    : t("error.generic", { code: err.code ?? "error", message: err.message ?? "" });
  box.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => (box.hidden = true), 8000);
}

function sendFeedback(articleId, action) {
  if (!state.callId) return;
  api.feedback(state.callId, articleId, action).catch(showError);
}

// ------------------------------------------------------------------ status bar

function renderStatus() {
  $("conn-dot").dataset.state = state.connection;
  $("conn-text").textContent = t(`conn.${state.connection}`);
  $("conn-text").dataset.state = state.connection;
  $("call-state").textContent = state.callState ? t(`state.${state.callState}`) : "";
  $("call-state").dataset.state = state.callState ?? "";
  $("lag").textContent = state.lagS == null ? "" : t("status.lag", { value: state.lagS.toFixed(1) });
  $("lag").dataset.level = state.lagS == null ? "" : state.lagS > 3 ? "bad" : state.lagS > 1.5 ? "warn" : "ok";
  $("sugg-latency").textContent = state.suggestMs == null ? ""
    : t("status.suggest", { value: Math.round(state.suggestMs) });
}

// ------------------------------------------------------------------ events

function showDraft(e) {
  $("draft").hidden = false;
  const area = $("draft-text");
  if (document.activeElement !== area) area.value = e.text;
  area.dataset.article = e.article_id;
  const chips = (e.cited_ids ?? []).map((id) => {
    const chip = document.createElement("span");
    chip.className = "cite";
    chip.textContent = id;
    return chip;
  });
  if (e.cross_lingual) {
    // the only answer is in another language: say so before the agent reads it out
    const flag = document.createElement("span");
    flag.className = "cite cross-lingual";
    flag.dataset.language = e.language ?? "";
    flag.textContent = t("draft.cross_lingual", { language: t(`lang.name.${e.language}`) });
    chips.unshift(flag);
  }
  $("draft-cites").replaceChildren(...chips);
}

const handlers = {
  call_started: () => {
    state.callState = "live";
  },
  transcript: (e) => transcript.apply(e),
  suggestions: (e) => {
    suggestions.upsert(e.items, { query: e.query });
    $("suggest-empty").hidden = suggestions.size > 0;
    if (e.speech_to_suggestion_ms != null) state.suggestMs = e.speech_to_suggestion_ms;
  },
  reply_draft: showDraft,
  alert: (e) => alerts.show(e),
  summary: (e) => {
    notes.show(e.notes, { latency_ms: e.latency_ms });
    if (e.notes?.checklist?.length) checklist.show(e.notes.checklist);
  },
  checklist: (e) => checklist.show(e.items),
  status: (e) => {
    state.callState = e.state;
    const lags = Object.values(e.lag_s ?? {});
    state.lagS = lags.length ? Math.max(...lags) : null;
  },
  call_ended: () => {
    state.callState = "ended";
    state.lagS = null;
  },
};

function onEvent(event) {
  handlers[event.type]?.(event);
  renderStatus();
}

// ------------------------------------------------------------------ calls

async function restoreFromStore(callId) {
  // Edited notes and feedback are not part of the event stream: take them from the stored call.
  try {
    const call = await api.call(callId);
    if (state.callId !== callId || !call) return;
    const stored = call.notes ?? call.summary?.notes ?? call.summary;
    if (stored?.edited) notes.show(stored);
    for (const fb of listOf(call.feedback)) suggestions.markFeedback(fb.article_id, fb.action);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) console.warn("call lookup failed", err);
  }
}

function openCall(callId, { waitForCall = false } = {}) {
  state.stream?.close();
  Object.assign(state, { callId, callState: null, lagS: null, suggestMs: null, connection: "connecting" });
  transcript.reset();
  alerts.reset();
  suggestions.reset();
  notes.reset();
  checklist.reset();
  $("suggest-empty").hidden = false;
  $("draft").hidden = true;
  $("call-id").value = callId;
  const url = new URL(location.href);
  url.searchParams.set("call", callId);
  history.replaceState(null, "", url);
  state.stream = new EventStream(callId, {
    onEvent,
    onState: (s) => {
      state.connection = s;
      renderStatus();
    },
    onError: showError,
  }, { waitForCall });
  state.stream.connect();
  if (!waitForCall) restoreFromStore(callId);
  renderStatus();
}

async function refreshLiveCalls() {
  try {
    const calls = listOf(await api.liveCalls(), "calls");
    $("live-calls").replaceChildren(...calls.map((call) => {
      const opt = document.createElement("option");
      opt.value = call.id ?? call.call_id;
      return opt;
    }));
  } catch (err) {
    // The list is a convenience; typing an id still works. A missing key is worth saying, though.
    if (AUTH_ERRORS.has(err.code)) $("key-form").hidden = false;
  }
}

// ------------------------------------------------------------------ controls

$("call-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const id = $("call-id").value.trim();
  if (!CALL_ID.test(id)) {
    showError({ code: "bad_call_id", message: t("call.bad_id") });
    return;
  }
  openCall(id);
});

$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  setApiKey($("api-key").value);
  $("api-key").value = "";
  $("alert").hidden = true;
  refreshLiveCalls();
  if (state.callId) openCall(state.callId);
});

$("demo-button").addEventListener("click", async () => {
  const btn = $("demo-button");
  if (btn.dataset.state === "playing") {
    demo.stop();
    return;
  }
  btn.dataset.state = "loading";
  $("demo-progress").textContent = t("demo.loading");
  try {
    const audio = await demo.load();
    const callId = `demo-${new Date().toISOString().replace(/[-:TZ.]/g, "").slice(0, 14)}`;
    openCall(callId, { waitForCall: true });
    btn.dataset.state = "playing";
    btn.textContent = t("demo.stop");
    btn.dataset.i18n = "demo.stop";
    await demo.play(callId, audio, () => {
      btn.dataset.state = "idle";
      btn.dataset.i18n = "demo.play";
      btn.textContent = t("demo.play");
      $("demo-progress").textContent = t("demo.done");
    }, DEMO_SPEED);
  } catch (err) {
    stopWaitingForCall();
    btn.dataset.state = "idle";
    btn.dataset.i18n = "demo.play";
    btn.textContent = t("demo.play");
    $("demo-progress").textContent = "";
    showError({ code: "demo_failed", message: t("demo.failed", { message: err.message }) });
  }
});

$("search-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = $("search-q").value.trim();
  if (!q) return;
  try {
    const items = listOf(await api.searchKb(q), "hits").map((item, i) => ({
      ...item, article_id: item.article_id ?? item.id, rank: item.rank ?? i + 1,
    }));
    searchResults.upsert(items, { replace: true });
    if (!items.length) {
      const none = document.createElement("li");
      none.className = "empty";
      none.textContent = t("search.none");
      $("search-results").replaceChildren(none);
    }
  } catch (err) {
    showError(err);
  }
});

$("draft-copy").addEventListener("click", async () => {
  const area = $("draft-text");
  if (await copyText(area.value)) {
    $("draft-copy").textContent = t("card.copied");
    setTimeout(() => ($("draft-copy").textContent = t("card.copy")), 1500);
  }
  if (area.dataset.article) sendFeedback(area.dataset.article, "copied");
});

$("lang-toggle").addEventListener("click", () => {
  setLanguage(language() === "ja" ? "en" : "ja");
  localStorage.setItem("assist.lang", language());
});

onLanguageChange((lang) => {
  $("lang-toggle").textContent = lang === "ja" ? "EN" : "日本語";
  $("lang-toggle").setAttribute("aria-pressed", String(lang === "en"));
  transcript.relabel();
  alerts.relabel();
  suggestions.relabel();
  searchResults.relabel();
  notes.relabel();
  checklist.relabel();
  renderStatus();
});

// ------------------------------------------------------------------ start

const preferred = params.get("lang") ?? localStorage.getItem("assist.lang") ?? "ja";
setLanguage(preferred === "en" ? "en" : "ja");
applyTranslations();
renderStatus();
$("key-form").hidden = !getApiKey();
refreshLiveCalls();
setInterval(refreshLiveCalls, LIVE_POLL_MS);
const initial = params.get("call");
if (initial && CALL_ID.test(initial)) openCall(initial);
