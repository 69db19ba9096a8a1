/*
 * The console's REST client: every call carries the session's Bearer token,
 * answers JSON (or text/blob when asked), and fails with an ApiError whose
 * `plain` words an office clerk can read ("找不到该记录…") instead of a code.
 * A 401 means the session is over: the console goes back to sign-in.
 */

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message || code || String(status));
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export class Api {
  /** getToken() → the session token; onExpired(error) when the hub answers 401. */
  constructor({ getToken, onExpired }) {
    this.getToken = getToken;
    this.onExpired = onExpired;
  }

  /**
   * request("POST", "/api/sites", {json: {...}}) → the answer's JSON.
   * Options: json (a JSON body), form (a FormData body), as ("json" | "text" | "blob"),
   * quiet401 (do not end the session on 401: the sign-in form's own call).
   */
  async request(method, path, { json, form, as = "json", quiet401 = false } = {}) {
    const headers = {};
    const token = this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      body = form; // the browser sets the multipart boundary
    }
    let response;
    try {
      response = await fetch(path, { method, headers, body, cache: "no-store" });
    } catch (err) {
      throw new ApiError(0, "network", String(err?.message || err));
    }
    if (!response.ok) {
      let detail = null;
      try {
        detail = await response.json();
      } catch {
        /* not JSON: a proxy's page */
      }
      const error = new ApiError(response.status, detail?.error?.code || "", detail?.error?.message || "", detail);
      if (response.status === 401 && !quiet401) this.onExpired(error);
      throw error;
    }
    if (as === "text") return response.text();
    if (as === "blob") return response.blob();
    if (response.status === 204) return null;
    return response.json();
  }

  get(path, options) {
    return this.request("GET", path, options);
  }

  post(path, json = {}, options = {}) {
    return this.request("POST", path, { ...options, json });
  }

  patch(path, json, options = {}) {
    return this.request("PATCH", path, { ...options, json });
  }

  delete(path, options) {
    return this.request("DELETE", path, options);
  }

  upload(path, file, options = {}) {
    const form = new FormData();
    form.append("file", file, file.name);
    return this.request("POST", path, { ...options, form });
  }
}

/** Plain words for an ApiError (or any error), in the console's language. */
export function plainError(t, error) {
  const status = error?.status;
  const detail = error?.message && error.message !== String(status) ? error.message : "";
  const key = {
    0: "err_network",
    400: "err_invalid",
    401: "err_expired",
    403: "err_forbidden",
    404: "err_not_found",
    409: "err_conflict",
    413: "err_too_large",
    429: "err_rate_limited",
    503: "err_unavailable",
  }[status ?? -1] ?? "err_other";
  const words = t(key);
  // The hub's own message (English, technical) follows in brackets for the
  // technician the clerk will phone; the plain sentence comes first.
  return detail && status !== 0 ? `${words}（${detail}）` : words;
}
