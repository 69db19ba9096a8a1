/*
 * A site's terminal (/terminal?token=…): the page a liaison station, a hall or
 * an office keeps open all day. It connects to the `/sites` namespace with
 * the site's terminal token and shows the site's name and online state,
 * rings for incoming calls, the directory of the sites it may call (live
 * presence, search, selection of one, several or a whole district), the
 * calls it started with each site's state, the meetings it entered and its
 * call log. docs/contract.md, "Sites, terminals and calls", is the contract.
 *
 * The terminal token lives in localStorage (not sessionStorage like a
 * participant's link): a station's PC reopens its terminal after a restart
 * from a bookmark of /terminal.
 */
import { el } from "../dom.js";
import { I18n, relabel } from "../i18n.js";
import { Calls } from "./calls.js";
import { Directory, MAX_CALLED } from "./directory.js";
import { Ringer } from "./ringer.js";
import { STRINGS } from "./strings.js";

const TOKEN_KEY = "plenary.terminal";
const SOUND_KEY = "plenary.terminal.sound";
const CALL_TIMEOUT_MS = 10000;
const TOAST_MS = 4500;
const $ = (id) => document.getElementById(id);

function takeTerminalToken() {
  const url = new URL(window.location.href);
  const fromLink = url.searchParams.get("token");
  if (fromLink) {
    try {
      localStorage.setItem(TOKEN_KEY, fromLink);
    } catch {
      /* kept for this load only */
    }
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    return fromLink;
  }
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** The token's claims, read without checking (the hub checks); {} if unreadable. */
function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent([...atob(part)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join(""));
    return JSON.parse(json);
  } catch {
    return {};
  }
}

class Terminal {
  constructor() {
    this.i18n = new I18n();
    this.t = this.i18n.translator([STRINGS]);
    this.token = takeTerminalToken();
    this.claims = this.token ? claimsOf(this.token) : {};
    this.mySiteId = this.claims.role === "terminal" ? this.claims.site || null : null;
    this.socket = null;
    this.seq = null;
    this.refused = null;
    this.ringer = new Ringer();
    this.directory = new Directory({
      root: $("directory"), t: this.t, mySiteId: this.mySiteId, onSelection: (ids) => this.renderCallButton(ids),
    });
    this.calls = new Calls({
      t: this.t,
      call: (event, payload) => this.call(event, payload),
      api: (path) => fetch(path, { headers: { Authorization: `Bearer ${this.token}` } }),
      toast: (text, options) => this.toast(text, options),
      directory: this.directory,
      mySiteId: this.mySiteId,
      ringer: this.ringer,
      lang: () => this.i18n.lang,
    }, {
      rings: $("rings"), outgoing: $("outgoing"), outgoingPanel: $("outgoing-panel"),
      log: $("log"), meetings: $("meetings"), meetingsPanel: $("meetings-panel"),
    });
  }

  start() {
    this.bindControls();
    this.applyLanguage();
    if (!this.token) return this.refuse(this.t("no_terminal_token"));
    if (typeof window.io !== "function") return this.refuse(this.t("no_client"));
    this.calls.renderMeetings();
    const socket = window.io("/sites", {
      auth: { token: this.token },
      transports: ["websocket"],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 8000,
      randomizationFactor: 0.5,
    });
    this.socket = socket;
    socket.on("connect", () => this.setStatus("online"));
    socket.on("connect_error", (err) => {
      if (socket.active) this.setStatus("reconnecting");
      else this.refuse(this.reason(err?.message));
    });
    socket.on("disconnect", (reason) => {
      // The hub closes a terminal's connections when its site's terminal is revoked.
      if (reason === "io server disconnect") this.refuse(this.t("revoked"));
      else this.setStatus("reconnecting");
    });
    socket.on("directory", (data) => this.onDirectory(data));
    socket.on("directory:presence", (data) => this.onPresence(data));
    socket.on("call:ring", (data) => this.calls.ring(data));
    socket.on("call:state", (data) => this.calls.state(data));
  }

  bindControls() {
    for (const button of document.querySelectorAll("[data-lang]")) {
      button.addEventListener("click", () => this.i18n.setLanguage(button.dataset.lang));
    }
    this.i18n.onChange(() => this.applyLanguage());
    $("search").addEventListener("input", (event) => this.directory.setFilter(event.target.value));
    $("clear").addEventListener("click", () => this.directory.clear());
    $("call-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.startCall();
    });
    $("sound").addEventListener("click", () => this.enableSound());
    // Audio needs a click on the page first: the first click anywhere turns the ring on if it was on before.
    document.addEventListener("click", () => {
      if (localStorage.getItem(SOUND_KEY) === "on" && !this.ringer.enabled) this.enableSound();
    }, { once: true, capture: true });
  }

  async enableSound() {
    const on = await this.ringer.enable();
    try {
      localStorage.setItem(SOUND_KEY, on ? "on" : "off");
    } catch {
      /* remembered for this load only */
    }
    this.renderSound();
  }

  renderSound() {
    const button = $("sound");
    button.textContent = this.t(this.ringer.enabled ? "sound_on" : "sound_off");
    button.setAttribute("aria-pressed", String(this.ringer.enabled));
  }

  applyLanguage() {
    const lang = this.i18n.lang;
    document.documentElement.lang = lang;
    for (const button of document.querySelectorAll("[data-lang]")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    relabel(document, this.t);
    for (const node of document.querySelectorAll("[data-t-placeholder]")) node.placeholder = this.t(node.dataset.tPlaceholder);
    this.renderSound();
    this.renderHeader();
    if (this.directory.sites.size) this.directory.render();
    this.calls.renderRings();
    this.calls.renderOutgoing();
    this.calls.renderMeetings();
    this.calls.refreshLogSoon();
    if (this.refused) this.refuse(this.refused);
    else this.setStatus(this.status || "connecting");
  }

  setStatus(status) {
    this.status = status;
    const conn = $("conn");
    conn.dataset.status = status;
    conn.querySelector(".conn-text").textContent = this.t(`status_${status}`);
    this.renderHeader();
    this.renderCallButton();
  }

  renderHeader() {
    const me = this.directory.me();
    const name = me ? me.name : this.mySiteId ? this.t("terminal_title") : this.t("watching");
    $("site-name").textContent = name;
    $("site-name").removeAttribute("data-t");
    document.title = `${name} · Plenary`;
    const online = this.status === "online" && (!me || me.online !== false);
    const state = $("site-state");
    state.dataset.online = String(online);
    state.textContent = this.mySiteId ? this.t(online ? "site_online" : "site_offline") : "";
    const { online: on, total } = this.directory.counts();
    $("directory-count").textContent = total ? this.t("directory_count", { online: on, total }) : "";
  }

  onDirectory(data) {
    if (!Array.isArray(data?.sites)) return;
    this.seq = typeof data.seq === "number" ? data.seq : null;
    this.directory.load(data.sites);
    this.renderHeader();
    this.calls.renderOutgoing();
    this.calls.refreshLog();
  }

  async onPresence(data) {
    if (typeof data?.seq === "number" && this.seq !== null) {
      if (data.seq <= this.seq) return;
      if (data.seq > this.seq + 1) {
        // A gap: this page missed a change; ask for the directory again.
        const answer = await this.call("directory:sync", {});
        if (answer.ok) this.onDirectory(answer);
        return;
      }
    }
    if (typeof data?.seq === "number") this.seq = data.seq;
    if (this.directory.presence(data.site_id, !!data.online)) this.renderHeader();
  }

  renderCallButton(ids = this.directory.selected()) {
    const button = $("call");
    button.disabled = !this.mySiteId || ids.length === 0 || this.status !== "online";
    button.textContent = ids.length ? this.t("call_n", { n: ids.length }) : this.t("call_none");
    $("selected-count").textContent = ids.length ? this.t("selected", { n: ids.length }) : "";
    $("call-form").hidden = !this.mySiteId;
  }

  async startCall() {
    const ids = this.directory.selected();
    if (!ids.length) return this.toast(this.t("call_none"), { kind: "error" });
    if (ids.length > MAX_CALLED) return this.toast(this.t("too_many"), { kind: "error" });
    const win = window.open("", "_blank"); // inside the click: not a blocked popup
    const title = $("call-form").elements.title.value.trim();
    if (await this.calls.start(ids, title, win)) {
      $("call-form").elements.title.value = "";
      this.directory.clear();
    }
  }

  async call(event, payload = {}) {
    if (!this.socket?.connected) return { ok: false, error: { code: "offline", message: "not connected to the hub" } };
    try {
      return await this.socket.timeout(CALL_TIMEOUT_MS).emitWithAck(event, payload);
    } catch {
      return { ok: false, error: { code: "timeout", message: `no answer to ${event} in time` } };
    }
  }

  reason(message) {
    const key = `reason:${message}`;
    const known = this.t(key);
    return known === key ? message || "" : known;
  }

  refuse(reason) {
    this.refused = reason;
    this.status = "refused";
    $("conn").dataset.status = "refused";
    $("conn").querySelector(".conn-text").textContent = this.t("status_offline");
    $("refusal-title").textContent = this.t("refused_title");
    $("refusal-reason").textContent = reason;
    $("refusal").hidden = false;
    document.body.classList.add("is-refused");
    this.ringer.stop();
    $("rings").hidden = true;
  }

  toast(message, { kind = "info" } = {}) {
    const note = el("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status", text: String(message) });
    const root = $("toasts");
    root.append(note);
    while (root.children.length > 4) root.firstElementChild.remove();
    setTimeout(() => note.remove(), TOAST_MS);
  }
}

const terminal = new Terminal();
window.plenaryTerminal = terminal; // for tests and for a look from the console
terminal.start();
