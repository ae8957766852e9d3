// REST calls. Every failure becomes an ApiError with the server's machine-readable code, so views
// can show "[code] message" instead of a bare status.

export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
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
  call: (id) => request("GET", `/api/calls/${enc(id)}`),
  saveSummary: (id, notes) => request("PATCH", `/api/calls/${enc(id)}/summary`, notes),
  feedback: (id, articleId, action) =>
    request("POST", `/api/calls/${enc(id)}/feedback`, { article_id: articleId, action }),
};

export function wsUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}
