// Calls seen from one terminal: rings coming in (a banner with a countdown,
// accept / decline), the calls this site started (each called site's state,
// live), the meetings this site entered through a call, and the call log.
import { el } from "../dom.js";

const LOG_LIMIT = 30;
const LOG_REFRESH_MS = 400;
const MEETINGS_KEPT_MS = 24 * 3600 * 1000;
const MEETINGS_SHOWN = 10;

/**
 * A meeting page for a join link, on this page's own origin (the hub that
 * serves the terminal serves the meeting; its configured base URL may name
 * another address), with the camera started on arrival: one click to the picture.
 */
export function withMedia(joinUrl) {
  const url = new URL(joinUrl, window.location.href);
  return `${window.location.origin}${url.pathname}${url.search}#media=on`;
}

export class Calls {
  /**
   * @param {object} host  {t, call(event, payload), api(path), toast(text, opts), directory, mySiteId, ringer, lang()}
   */
  constructor(host, roots) {
    this.host = host;
    this.roots = roots; // {rings, outgoing, outgoingPanel, log, meetings, meetingsPanel}
    this.rings = new Map(); // call id -> call:ring payload
    this.outgoing = new Map(); // call id -> {call_id, meeting_id, join_url, title, sites: Map(site id -> {state, at})}
    this.seqs = new Map(); // call id -> last call:state seq applied
    this.logTimer = null;
    this.ticker = setInterval(() => this.tick(), 250);
    this.storageKey = `plenary.terminal.meetings:${host.mySiteId || "admin"}`;
  }

  t(key, vars) {
    return this.host.t(key, vars);
  }

  // ── incoming ──────────────────────────────────────────────────────────

  ring(data) {
    if (!data?.call_id) return;
    this.rings.set(data.call_id, { ...data, received: Date.now() });
    this.renderRings();
  }

  remaining(ring) {
    const expires = Date.parse(ring.expires_at);
    const left = Number.isFinite(expires) ? expires - Date.now() : 30000 - (Date.now() - ring.received);
    return Math.max(0, Math.min(30000, left));
  }

  renderRings() {
    const root = this.roots.rings;
    root.replaceChildren();
    for (const ring of this.rings.values()) {
      const title = ring.title ? el("p", { class: "ring-subject", text: this.t("incoming_title", { title: ring.title }) }) : null;
      root.append(el("div", { class: "ring", "data-call-id": ring.call_id },
        el("div", { class: "ring-text" },
          el("p", { class: "ring-from", text: this.t("incoming", { name: ring.from?.name || "" }) }),
          title,
          el("p", { class: "ring-left", role: "timer", text: this.t("seconds_left", { n: Math.ceil(this.remaining(ring) / 1000) }) })),
        el("div", { class: "ring-actions" },
          el("button", { type: "button", class: "button primary ring-accept", "data-action": "accept", text: this.t("accept"),
            on: { click: () => this.accept(ring) } }),
          el("button", { type: "button", class: "button danger", "data-action": "decline", text: this.t("decline"),
            on: { click: () => this.decline(ring) } }))));
    }
    root.hidden = this.rings.size === 0;
    if (this.rings.size) this.host.ringer.start();
    else this.host.ringer.stop();
  }

  tick() {
    for (const ring of [...this.rings.values()]) {
      const node = this.roots.rings.querySelector(`.ring[data-call-id="${CSS.escape(ring.call_id)}"] .ring-left`);
      const left = this.remaining(ring);
      if (node) node.textContent = this.t("seconds_left", { n: Math.ceil(left / 1000) });
      // The hub says `missed` at 30 s; a page that missed that word stops ringing a little later.
      if (left <= 0 && Date.now() - Date.parse(ring.expires_at) > 3000) this.endRing(ring.call_id);
    }
  }

  endRing(callId) {
    if (this.rings.delete(callId)) this.renderRings();
  }

  async accept(ring) {
    // Opened inside the click, so no popup blocker stops it; pointed at the meeting once the hub answers.
    const win = window.open("", "_blank");
    const ack = await this.host.call("call:accept", { call_id: ring.call_id });
    this.endRing(ring.call_id);
    if (!ack.ok) {
      win?.close();
      this.host.toast(this.errorText(ack), { kind: "error" });
      return;
    }
    const title = ring.title || this.t("call_default_title", { name: ring.from?.name || "" });
    this.remember({ meeting_id: ack.meeting_id, title, join_url: ack.join_url });
    this.open(win, ack.join_url);
    this.refreshLog();
  }

  async decline(ring) {
    const ack = await this.host.call("call:decline", { call_id: ring.call_id });
    this.endRing(ring.call_id);
    if (!ack.ok) this.host.toast(this.errorText(ack), { kind: "error" });
    this.refreshLog();
  }

  // ── outgoing ──────────────────────────────────────────────────────────

  /** Start a call to `siteIds`; `win` is a window opened in the click (or null). */
  async start(siteIds, title, win) {
    const payload = { site_ids: siteIds };
    if (title) payload.title = title;
    const ack = await this.host.call("call:start", payload);
    if (!ack.ok) {
      win?.close();
      this.host.toast(this.errorText(ack), { kind: "error" });
      return false;
    }
    const shown = title || this.t("call_default_title", { name: this.host.directory.name(this.host.mySiteId) });
    this.outgoing.set(ack.call_id, {
      call_id: ack.call_id, meeting_id: ack.meeting_id, join_url: ack.join_url, title: shown,
      sites: new Map(siteIds.map((id) => [id, { state: "ringing", at: null }])),
    });
    this.remember({ meeting_id: ack.meeting_id, title: shown, join_url: ack.join_url });
    this.renderOutgoing();
    this.open(win, ack.join_url);
    this.refreshLog();
    return true;
  }

  async cancel(callId) {
    const ack = await this.host.call("call:cancel", { call_id: callId });
    if (!ack.ok) this.host.toast(this.errorText(ack), { kind: "error" });
  }

  state(data) {
    if (!data?.call_id) return;
    const last = this.seqs.get(data.call_id);
    if (typeof data.seq === "number") {
      if (last !== undefined && data.seq <= last) return;
      this.seqs.set(data.call_id, data.seq);
    }
    if (data.site_id === this.host.mySiteId && data.state !== "ringing") this.endRing(data.call_id);
    const call = this.outgoing.get(data.call_id);
    if (call) {
      call.sites.set(data.site_id, { state: data.state, at: data.at });
      this.renderOutgoing();
    }
    this.refreshLogSoon();
  }

  renderOutgoing() {
    const root = this.roots.outgoing;
    root.replaceChildren();
    for (const call of [...this.outgoing.values()].reverse()) {
      const states = [...call.sites.values()].map((s) => s.state);
      const ringing = states.includes("ringing");
      const chips = el("ul", { class: "call-sites" });
      for (const [siteId, s] of call.sites) {
        chips.append(el("li", { class: "call-site", "data-site-id": siteId, "data-state": s.state },
          el("span", { class: "site-name", text: this.host.directory.name(siteId) }),
          el("span", { class: "state-chip", "data-state": s.state, text: this.t(`state:${s.state}`) })));
      }
      root.append(el("article", { class: "outgoing-call", "data-call-id": call.call_id },
        el("div", { class: "outgoing-head" },
          el("strong", { text: call.title }),
          el("div", { class: "outgoing-actions" },
            el("button", { type: "button", class: "button primary", "data-action": "enter", text: this.t("enter_meeting"),
              on: { click: () => this.open(window.open("", "_blank"), call.join_url) } }),
            ringing ? el("button", { type: "button", class: "button danger", "data-action": "cancel", text: this.t("cancel_call"),
              on: { click: () => this.cancel(call.call_id) } }) : null)),
        chips));
    }
    this.roots.outgoingPanel.hidden = this.outgoing.size === 0;
  }

  // ── meetings this site entered ────────────────────────────────────────

  remembered() {
    try {
      const all = JSON.parse(localStorage.getItem(this.storageKey) || "[]");
      return Array.isArray(all) ? all.filter((m) => Date.now() - m.at < MEETINGS_KEPT_MS) : [];
    } catch {
      return [];
    }
  }

  remember(meeting) {
    const all = [{ ...meeting, at: Date.now() }, ...this.remembered().filter((m) => m.meeting_id !== meeting.meeting_id)];
    try {
      localStorage.setItem(this.storageKey, JSON.stringify(all.slice(0, MEETINGS_SHOWN)));
    } catch {
      /* not kept across loads; still listed below for this page */
    }
    this.renderMeetings(all.slice(0, MEETINGS_SHOWN));
  }

  renderMeetings(list = this.remembered()) {
    const root = this.roots.meetings;
    root.replaceChildren();
    for (const meeting of list) {
      root.append(el("li", { class: "meeting-row", "data-meeting-id": meeting.meeting_id },
        el("span", { class: "meeting-name", text: meeting.title }),
        el("span", { class: "muted", text: new Date(meeting.at).toLocaleTimeString(this.host.lang()) }),
        el("button", { type: "button", class: "button", "data-action": "enter", text: this.t("enter_meeting"),
          on: { click: () => this.open(window.open("", "_blank"), meeting.join_url) } })));
    }
    this.roots.meetingsPanel.hidden = list.length === 0;
  }

  open(win, joinUrl) {
    const url = withMedia(joinUrl);
    if (win) {
      win.opener = null;
      win.location.href = url;
      return;
    }
    this.host.toast(this.t("popup_blocked"));
    window.location.assign(url);
  }

  // ── the call log ──────────────────────────────────────────────────────

  refreshLogSoon() {
    if (this.logTimer !== null) return;
    this.logTimer = setTimeout(() => {
      this.logTimer = null;
      this.refreshLog();
    }, LOG_REFRESH_MS);
  }

  async refreshLog() {
    let calls;
    try {
      const response = await this.host.api(`/api/calls?limit=${LOG_LIMIT}`);
      if (!response.ok) return;
      calls = await response.json();
    } catch {
      return; // offline: the next change or reconnect fetches it again
    }
    this.renderLog(Array.isArray(calls) ? calls : []);
  }

  renderLog(calls) {
    const root = this.roots.log;
    root.replaceChildren();
    if (!calls.length) root.append(el("li", { class: "muted", text: this.t("log_empty") }));
    const dir = this.host.directory;
    for (const call of calls) {
      const mine = call.from_site_id === this.host.mySiteId;
      const targets = call.sites.filter((s) => mine || s.site_id === this.host.mySiteId || !this.host.mySiteId);
      const to = targets.map((s) => dir.name(s.site_id)).join("、");
      const item = el("li", { class: "log-row", "data-call-id": call.id, "data-direction": mine ? "out" : "in" },
        el("span", { class: "log-time muted", text: new Date(call.created_at).toLocaleString(this.host.lang()) }),
        el("span", { class: "log-who", text: this.t("log_from", { from: dir.name(call.from_site_id), to }) }),
        call.title ? el("span", { class: "log-title muted", text: call.title }) : null);
      const chips = el("span", { class: "log-states" });
      for (const s of targets) {
        chips.append(el("span", { class: "state-chip", "data-state": s.state, "data-site-id": s.site_id,
          title: dir.name(s.site_id), text: this.t(`state:${s.state}`) }));
      }
      item.append(chips);
      root.append(item);
    }
  }

  errorText(ack) {
    const code = ack?.error?.code;
    const key = `error:${code}`;
    const text = this.t(key);
    return text === key ? ack?.error?.message || code || "error" : text;
  }
}
