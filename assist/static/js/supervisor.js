// The supervisor console (/supervisor): the wall of live calls from `WS /ws/events`, a read-only view of one
// call, and the recently ended calls with their notes. The page itself is public (a browser cannot send a key
// with a page load); its first request, GET /api/supervisor/recent, needs a supervisor or admin key
// (calls:watch), and the page opens no socket until that passed.

import { api, AUTH_ERRORS, getApiKey, listOf, openSocket, setApiKey } from "./api.js";
import { applyTranslations, language, onLanguageChange, setLanguage, t } from "./i18n.js";
import "./supervisor-i18n.js";
import { CallBoard } from "./supervisor-board.js";
import { CallDetail } from "./supervisor-detail.js";
import { RecentCalls } from "./supervisor-recent.js";
import { icon } from "./supervisor-row.js";

const $ = (id) => document.getElementById(id);
const MAX_BACKOFF_MS = 5000;
const RECENT = 10;
const params = new URLSearchParams(location.search);

function showError(err) {
  const box = $("alert");
  box.textContent = err.code === "network" ? t("error.network")
    : t("error.generic", { code: err.code ?? "error", message: err.message ?? "" });
  box.dataset.code = err.code ?? "";
  box.hidden = false;
  clearTimeout(showError.timer);
  if (!AUTH_ERRORS.has(err.code)) showError.timer = setTimeout(() => (box.hidden = true), 8000);
}

const detail = new CallDetail({
  root: $("detail"), empty: $("detail-empty"), body: $("detail-body"), call: $("detail-call"),
  agent: $("detail-agent"), state: $("detail-state"), alerts: $("detail-alerts"),
  alertsEmpty: $("detail-alerts-empty"), transcript: $("detail-transcript"),
  transcriptEmpty: $("detail-transcript-empty"), cards: $("detail-cards"), cardsEmpty: $("detail-cards-empty"),
  notesBox: $("detail-notes-box"), notes: $("detail-notes"),
}, showError);

function openCall(callId) {
  detail.open(callId, board.agentOf(callId));
  board.select(callId);
}

const recent = new RecentCalls($("recent"), $("recent-empty"), openCall);
const board = new CallBoard(
  { table: $("live-table"), body: $("live-rows"), empty: $("live-empty"), count: $("live-count") },
  recent, openCall,
);

// ------------------------------------------------------------------ the wall socket

const wall = { socket: null, attempt: 0, timer: null, state: "connecting", stopped: false };

function setWallState(state) {
  wall.state = state;
  $("wall-dot").dataset.state = state;
  $("wall-text").dataset.state = state;
  $("wall-text").textContent = t(`sup.wall.${state}`);
}

function connectWall() {
  if (wall.stopped) return;
  setWallState(wall.attempt ? "reconnecting" : "connecting");
  const socket = openSocket("/ws/events");
  wall.socket = socket;
  socket.onopen = () => {
    wall.attempt = 0;
    setWallState("open");
  };
  socket.onmessage = (msg) => {
    let e;
    try {
      e = JSON.parse(msg.data);
    } catch {
      return;
    }
    if (e.type === "error") {
      if (AUTH_ERRORS.has(e.code) || (e.fatal && e.code !== "lagging")) refuse(e);
      else if (e.code !== "lagging") showError(e);
      return;
    }
    board.handle(e);
  };
  socket.onclose = () => {
    if (wall.socket !== socket) return;
    wall.socket = null;
    if (wall.stopped) return;
    // no replay on the wall: the server sends every live call's status again, REST fills what ended meanwhile
    wall.attempt += 1;
    setWallState("reconnecting");
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(wall.attempt, 5));
    wall.timer = setTimeout(() => {
      loadRecent();
      connectWall();
    }, delay);
  };
}

function stopWall() {
  wall.stopped = true;
  clearTimeout(wall.timer);
  const socket = wall.socket;
  wall.socket = null;
  socket?.close();
}

/** A key that may not watch (or none): say so, show the key form, open nothing. */
function refuse(err) {
  stopWall();
  setWallState("refused");
  $("key-form").hidden = false;
  const needsKey = !getApiKey() && err.code === "unauthorized";
  showError(needsKey ? { code: err.code, message: t("key.needed") }
    : err.code === "forbidden" ? { code: err.code, message: t("sup.need_supervisor") } : err);
  document.body.dataset.access = "refused";
}

async function loadRecent() {
  try {
    board.setRecent(listOf(await api.recentCalls(RECENT), "calls"));
    return true;
  } catch (err) {
    if (AUTH_ERRORS.has(err.code)) refuse(err);
    else showError(err);
    return false;
  }
}

async function start() {
  stopWall();
  if (!(await loadRecent())) return;
  document.body.dataset.access = "granted";
  $("key-form").hidden = true;
  $("alert").hidden = true;
  wall.stopped = false;
  wall.attempt = 0;
  connectWall();
}

// ------------------------------------------------------------------ controls

$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  setApiKey($("api-key").value);
  $("api-key").value = "";
  start();
});

$("detail-close").append(icon("close"));
$("detail-close").addEventListener("click", () => {
  detail.close();
  board.select(null);
});

$("lang-toggle").addEventListener("click", () => {
  setLanguage(language() === "ja" ? "en" : "ja");
  localStorage.setItem("assist.lang", language());
});

onLanguageChange((lang) => {
  $("lang-toggle").textContent = lang === "ja" ? "EN" : "日本語";
  $("lang-toggle").setAttribute("aria-pressed", String(lang === "en"));
  $("detail-close").setAttribute("aria-label", t("sup.close"));
  setWallState(wall.state);
  board.relabel();
  detail.relabel();
});

const preferred = params.get("lang") ?? localStorage.getItem("assist.lang") ?? "ja";
setLanguage(preferred === "en" ? "en" : "ja");
applyTranslations();
setWallState(wall.state);
setInterval(() => board.tick(), 1000);
start();
