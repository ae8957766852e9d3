// REST calls. Every failure becomes an ApiError with the server's machine-readable code, so views
// can show "[code] message" instead of a bare status.

export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

// The agent's API key (servers in `keys` mode): kept for this browser tab only.
const KEY_STORE = "assist.apiKey";
let apiKey = sessionStorage.getItem(KEY_STORE) || "";

export function getApiKey() {
  return apiKey;
}

export function setApiKey(key) {
  apiKey = key.trim();
  if (apiKey) sessionStorage.setItem(KEY_STORE, apiKey);
  else sessionStorage.removeItem(KEY_STORE);
}

/** Errors that no retry can fix without a (different) key. */
export const AUTH_ERRORS = new Set(["unauthorized", "invalid_key", "forbidden"]);

async function request(method, path, body) {
  const headers = body === undefined ? {} : { "Content-Type": "application/json" };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError("network", err.message || "network error");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const err = data?.error ?? data?.detail ?? data ?? {};
    const code = err.code ?? `http_${response.status}`;
    const message = typeof err === "string" ? err : err.message ?? (text || response.statusText);
    throw new ApiError(code, message, response.status);
  }
  return data;
}

const enc = encodeURIComponent;

/** Items of a list answer, whatever the envelope ({items}, {results}, {calls} or a bare list). */
export function listOf(data, ...keys) {
  if (Array.isArray(data)) return data;
  for (const key of [...keys, "items", "results"]) if (Array.isArray(data?.[key])) return data[key];
  return [];
}

export const api = {
  searchKb: (q, k = 5) => request("GET", `/api/kb/search?q=${enc(q)}&k=${k}`),
  liveCalls: () => request("GET", "/api/calls?state=live"),
  recentCalls: (limit = 10) => request("GET", `/api/supervisor/recent?limit=${limit}`),
  call: (id) => request("GET", `/api/calls/${enc(id)}`),
  saveSummary: (id, notes) => request("PATCH", `/api/calls/${enc(id)}/summary`, notes),
  feedback: (id, articleId, action) =>
    request("POST", `/api/calls/${enc(id)}/feedback`, { article_id: articleId, action }),
};

/** A websocket to this server; the key travels as the `bearer, <key>` subprotocol pair (browsers
 * cannot set headers on websockets, and query strings end up in access logs). */
export function openSocket(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${location.host}${path}`;
  return apiKey ? new WebSocket(url, ["bearer", apiKey]) : new WebSocket(url);
}
