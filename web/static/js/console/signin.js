/*
 * Who is using the console: a session from `POST /api/session` (user name
 * and password), or the hub's admin token passed once as `/console?token=…`
 * (from `plenary admin-token`, for the first setup). Kept in sessionStorage
 * (this tab only, gone when it closes: an office PC is shared), and taken out
 * of the address bar so the admin token is not bookmarked.
 */

const STORAGE_KEY = "plenary.console";

/** The token's claims, read without checking (the hub checks); {} if unreadable. */
export function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent([...atob(part)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join(""));
    return JSON.parse(json);
  } catch {
    return {};
  }
}

function store(session) {
  try {
    if (session) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    /* storage blocked: the session lasts for this page load */
  }
}

function stored() {
  try {
    const session = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    return session && typeof session.token === "string" ? session : null;
  } catch {
    return null;
  }
}

/** A session from a bare token (the admin token in the link). */
function fromToken(token) {
  const claims = claimsOf(token);
  return {
    token,
    role: claims.role === "operator" ? "operator" : "admin",
    site_id: claims.site || null,
    username: claims.role === "operator" ? claims.sub : null,
    expires_at: claims.exp ? new Date(claims.exp * 1000).toISOString() : null,
    from_link: true,
  };
}

export class Session {
  constructor() {
    this.current = this.takeFromLink() || stored();
    this.expiredOnLoad = false;
    if (this.current && this.expired()) {
      this.expiredOnLoad = true; // said on the sign-in form
      this.forget();
    }
  }

  takeFromLink() {
    const url = new URL(window.location.href);
    const token = url.searchParams.get("token");
    if (!token) return null;
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    const session = fromToken(token);
    store(session);
    return session;
  }

  expired() {
    const at = Date.parse(this.current?.expires_at || "");
    return Number.isFinite(at) && at <= Date.now();
  }

  get token() {
    return this.current?.token || null;
  }

  get isAdmin() {
    return this.current?.role === "admin";
  }

  /** POST /api/session; throws the ApiError (401 wrong name or password, 429 too many tries). */
  async signIn(api, username, password) {
    const answer = await api.post("/api/session", { username, password }, { quiet401: true });
    this.current = { ...answer, username: answer.username || username };
    store(this.current);
    return this.current;
  }

  /** DELETE /api/session (best effort: the token is forgotten here whatever the hub says). */
  async signOut(api) {
    const wasLink = this.current?.from_link;
    if (this.current && !wasLink) {
      try {
        await api.delete("/api/session", { quiet401: true });
      } catch {
        /* already over, or the hub is away: forgotten here all the same */
      }
    }
    this.forget();
  }

  forget() {
    this.current = null;
    store(null);
  }
}
