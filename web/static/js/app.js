/*
 * Plenary browser shell.
 *
 * The hub serves this page at /join?token=… (and /). The shell takes the token
 * once, connects to Socket.IO namespace /meeting, calls state:sync, shows the
 * meeting, who you are and the roster, and loads the feature modules.
 *
 * ─── Writing a feature ──────────────────────────────────────────────────────
 * One file: web/static/js/features/<name>.js (listed by GET /client/features,
 * imported by the shell; no registration anywhere else).
 *
 *   export default {
 *     id: "voting",                       // unique; used in the DOM as data-feature
 *     order: 30,                          // optional: lower = earlier panels/stage items (default 100)
 *     strings: { "zh-CN": { title: "满意度测评" }, en: { title: "Satisfaction vote" } },
 *     connect(ctx) { … },                 // optional: once, as soon as the socket first connects, in
 *                                         // parallel with the first state:sync (ctx.state, ctx.me are
 *                                         // still undefined): start here what needs no state, e.g.
 *                                         // media:subscribe; broadcasts it brings wait for mount()
 *     mount(ctx) { … },                   // once, after the first state:sync (may be async; register
 *                                         // your ctx.on handlers in its synchronous part: broadcasts
 *                                         // that came while modules loaded are replayed right after it).
 *                                         // Modules mount in `order`, each in a task of its own, so
 *                                         // keep the synchronous part short. Optionally add a
 *                                         // <link rel="modulepreload"> for your file to index.html:
 *                                         // fetched with the page, not after GET /client/features
 *     sync(ctx, state) { … },             // optional: after every later state:sync (gap, reconnect),
 *                                         // not before your mount() has resolved
 *     onLanguage(ctx, lang) { … },        // optional: after the 中文/English switch
 *   };
 *
 * ctx:
 *   ctx.me            {id, name, role, site} of this participant (site: {id, name, kind, parent_id} | null)
 *   ctx.meeting       {id, title, status, starts_at}
 *   ctx.state         the latest state:sync answer ({seq, meeting, me, roster, inquiry, vote,
 *                     document, recording, tracks, ice_servers, …}); ctx.state.roster is kept
 *                     current by the shell from `roster` broadcasts. Read it when you need it
 *                     (it is replaced on each sync; do not keep a reference).
 *   ctx.call(event, payload)  → Promise of the ack; never rejects: {ok: true, …} or
 *                     {ok: false, error: {code, message}}; besides the contract's codes the shell
 *                     adds "offline" (not connected; nothing was sent) and "timeout" (10 s).
 *   ctx.on(event, handler)    handler(data) for each server broadcast `event`; returns an
 *                     unsubscribe function. Seq gaps are handled by the shell (it re-syncs and
 *                     then calls your sync hook), and broadcasts older than the state you hold
 *                     are dropped. Make handlers idempotent: an event may arrive whose effect
 *                     the synced state already shows. Unsequenced events (media:offer,
 *                     media:active-speaker) are passed through as they come.
 *   ctx.t(key, vars)  your string in the current language (falls back to zh-CN, then to the
 *                     shell's strings, then to the key); "{name}" placeholders filled from vars.
 *                     The shell's strings include "role:<role>" and "group:<site kind>".
 *   ctx.lang          "zh-CN" or "en".
 *   ctx.panel(id, title)      → the body element of a panel (a section with a heading) in the
 *                     main column, made once per id. If `title` is a key of your strings, the
 *                     heading follows the language switch. Hide the whole panel with
 *                     `body.closest(".panel").hidden = true`.
 *   ctx.stage(id?)    → your element on the stage: the big area at the top of the main column
 *                     for the video grid, the presented document page… Several stage items
 *                     share it side by side (flex, by `order`); set `.hidden = true` on yours when
 *                     it has nothing to show; the stage disappears when all items are hidden.
 *   Any element inside your panels/stage with data-t="key" is re-labelled on a language switch.
 *   ctx.api(path, options)    fetch() with "Authorization: Bearer <token>"; `options.json`
 *                     sends a JSON body. Resolves to the Response.
 *   ctx.token         the participant's token (e.g. for <img> URLs you fetch yourself).
 *   ctx.toast(message, {kind: "info" | "error"})  a short notice that goes away by itself.
 *   ctx.participant(id) → the roster entry {id, name, role, site, online} or undefined;
 *   ctx.nameOf(id)    → that participant's name;  ctx.roleLabel(role) → 主持人 / Chair …
 *
 * Styling: plain DOM, no framework. Put your CSS in your module (inject one <style> once);
 * the shell's variables are available: --ink, --muted, --line, --surface, --accent,
 * --accent-ink, --ok, --warn, --danger, --radius, --touch (minimum target size, 48px).
 * Use class "button" (and "button primary" / "button danger") for touch-sized buttons.
 * ────────────────────────────────────────────────────────────────────────────
 */

import { Connection } from "./connection.js";
import { FeatureHost, importFeatures } from "./features.js";
import { I18n, SHELL_STRINGS, relabel } from "./i18n.js";
import { renderRoster } from "./roster.js";
import { takeToken } from "./session.js";
import { Surfaces } from "./ui.js";

const $ = (id) => document.getElementById(id);
// Milestones of the way to the picture (bench/join.py prints them): the first of each name only.
export const mark = (name) => performance.getEntriesByName(`plenary:${name}`).length || performance.mark(`plenary:${name}`);

class Shell {
  constructor() {
    this.i18n = new I18n();
    this.t = this.i18n.translator();
    this.state = null;
    this.status = "connecting";
    this.surfaces = new Surfaces({ panels: $("panels"), stage: $("stage"), toasts: $("toasts"), notice: $("notice") });
    this.features = null;
    this.featureList = null;
    this.mounted = false;
  }

  start() {
    mark("start");
    this.applyLanguage();
    this.wireChrome();
    const token = takeToken();
    if (!token) return this.refuse("no_token", null);
    if (typeof window.io !== "function") return this.refuse("no_client", null);

    this.featureList = importFeatures().catch((err) => {
      console.error("feature list unavailable", err);
      return { loaded: [], failed: ["/client/features"] };
    });
    this.connection = new Connection(window.io, token, {
      onSync: (state) => this.onSync(state),
      onEvent: (event, data) => this.onEvent(event, data),
      onStatus: (status, detail) => this.onStatus(status, detail),
    });
    this.features = new FeatureHost({
      i18n: this.i18n,
      surfaces: this.surfaces,
      connection: this.connection,
      token,
      state: () => this.state,
      participant: (id) => this.state?.roster?.find((p) => p.id === id),
    });
    this.connection.start();
  }

  wireChrome() {
    for (const button of document.querySelectorAll("[data-lang]")) {
      button.addEventListener("click", () => this.i18n.setLanguage(button.dataset.lang));
    }
    this.i18n.onChange((lang) => {
      this.applyLanguage();
      this.features?.relabel(lang);
    });
    // The roster column sticks just below the top bar, whose height follows the title's length.
    const topbar = document.querySelector(".topbar");
    new ResizeObserver(() => {
      document.documentElement.style.setProperty("--topbar-height", `${topbar.offsetHeight}px`);
    }).observe(topbar);
    $("roster-toggle").addEventListener("click", () => {
      const roster = $("roster");
      this.setRosterOpen(!roster.classList.contains("is-open"));
    });
  }

  setRosterOpen(open) {
    $("roster").classList.toggle("is-open", open);
    const toggle = $("roster-toggle");
    toggle.setAttribute("aria-expanded", String(open));
    toggle.querySelector(".toggle-label").textContent = this.t(open ? "hide_roster" : "show_roster");
  }

  applyLanguage() {
    const lang = this.i18n.lang;
    document.documentElement.lang = lang;
    for (const button of document.querySelectorAll("[data-lang]")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    relabel(document, this.t, { skipFeatures: true });
    this.setRosterOpen($("roster").classList.contains("is-open"));
    this.renderHeader();
    this.renderRoster();
    if (this.refusal) this.refuse(this.refusal.titleKey, this.refusal.reason);
    else this.onStatus(this.status, this.statusDetail);
  }

  // ── connection ──────────────────────────────────────────────────────────

  onStatus(status, detail) {
    if (status === "sync_failed") {
      this.surfaces.toast(this.t("sync_failed", { reason: detail }), { kind: "error" });
      return;
    }
    if (status === "online" && this.featureList && !this.connectedOnce) {
      // Runs before the sync's answer is applied (onSync awaits the same list after this).
      this.connectedOnce = true;
      this.featureList.then(({ loaded }) => this.features.connectAll(loaded));
    }
    this.status = status;
    this.statusDetail = detail;
    const badge = $("conn");
    badge.dataset.status = status;
    const label = { connecting: "status_connecting", online: "status_online", reconnecting: "status_reconnecting" };
    badge.querySelector(".conn-text").textContent = this.t(label[status] || "status_offline");
    if (status === "refused") {
      this.refuse("refused_title", detail);
    } else if (status === "reconnecting") {
      this.surfaces.notice(this.t("status_reconnecting"), { kind: "warn" });
    } else if (status === "offline") {
      this.surfaces.notice(this.t("kicked"), {
        kind: "error",
        action: { label: this.t("reconnect"), run: () => this.connection.reconnect() },
      });
    } else if (!this.refusal) {
      this.surfaces.notice(null);
    }
  }

  /** Show why we cannot join (a refused or missing token) instead of the meeting. */
  refuse(titleKey, reason) {
    this.refusal = { titleKey, reason };
    this.status = "refused";
    $("conn").dataset.status = "refused";
    $("conn").querySelector(".conn-text").textContent = this.t("status_offline");
    this.surfaces.notice(null);
    document.body.classList.add("is-refused");
    const box = $("refusal");
    box.hidden = false;
    $("refusal-title").textContent = this.t(titleKey);
    if (!this.state) {
      $("meeting-title").textContent = this.t("app_name");
      $("meeting-title").dataset.t = "app_name";
    }
    const reasonEl = $("refusal-reason");
    if (reason) {
      const friendly = this.friendlyReason(reason);
      reasonEl.replaceChildren();
      if (friendly) {
        const strong = document.createElement("strong");
        strong.textContent = friendly;
        reasonEl.append(strong, document.createElement("br"));
      }
      const raw = document.createElement("span");
      raw.className = "refusal-raw";
      raw.textContent = this.t("refused_reason", { reason });
      reasonEl.append(raw);
      $("refusal-advice").hidden = false;
    } else {
      reasonEl.replaceChildren();
      $("refusal-advice").hidden = true;
    }
  }

  /** The shell's own words for a server reason it knows (matched by prefix: some carry details). */
  friendlyReason(reason) {
    const known = Object.keys(SHELL_STRINGS["zh-CN"])
      .filter((key) => key.startsWith("reason:") && String(reason).startsWith(key.slice("reason:".length)))
      .sort((a, b) => b.length - a.length)[0];
    return known ? this.t(known) : null;
  }

  async onSync(state) {
    this.state = state;
    this.refusal = null;
    document.body.classList.remove("is-refused");
    $("refusal").hidden = true;
    this.renderHeader();
    this.renderRoster();
    if (this.mounted) {
      this.features.sync(state);
      return;
    }
    this.mounted = true;
    mark("synced");
    const { loaded, failed } = await this.featureList;
    mark("imported");
    failed.push(...(await this.features.mountAll(loaded)));
    mark("mounted");
    for (const name of failed) this.surfaces.toast(this.t("feature_failed", { name }), { kind: "error" });
    document.body.classList.add("is-ready");
  }

  onEvent(event, data) {
    if (event === "roster:presence" && this.state) {
      // Only presence changed (we asked for deltas): apply it to the roster we
      // hold and tell the features as if the whole roster had come.
      const online = new Set(data?.online || []);
      const offline = new Set(data?.offline || []);
      this.state.roster = this.state.roster.map((p) =>
        online.has(p.id) ? { ...p, online: true } : offline.has(p.id) ? { ...p, online: false } : p);
      event = "roster";
      data = { seq: data.seq, participants: this.state.roster };
    }
    if (event === "roster" && this.state && Array.isArray(data?.participants)) {
      this.state.roster = data.participants;
      this.scheduleRosterRender();
    }
    this.features?.dispatch(event, data);
  }

  // ── rendering ───────────────────────────────────────────────────────────

  renderHeader() {
    const state = this.state;
    if (!state) return;
    const title = state.meeting?.title || "";
    $("meeting-title").textContent = title;
    $("meeting-title").removeAttribute("data-t");
    document.title = title ? `${title} · Plenary` : "Plenary";
    const status = state.meeting?.status;
    const statusKey = `meeting:${status}`;
    $("meeting-status").textContent = !status ? "" : this.i18n.has([SHELL_STRINGS], statusKey) ? this.t(statusKey) : status;
    const me = state.me;
    $("me-name").textContent = me?.name || "";
    $("me-role").textContent = me ? this.t(`role:${me.role}`) : "";
    $("me-role").className = `role-badge role-${me?.role || "none"}`;
    $("me-site").textContent = me?.site?.name || "";
    $("me").hidden = !me;
  }

  /** At most one roster redraw per frame: a meeting's start is a storm of joins. */
  scheduleRosterRender() {
    if (this.rosterFrame) return;
    this.rosterFrame = requestAnimationFrame(() => {
      this.rosterFrame = null;
      this.renderRoster();
    });
  }

  renderRoster() {
    if (!this.state) return;
    renderRoster({ list: $("roster-list"), summary: $("roster-summary") }, this.state.roster, this.state.me?.id, this.t);
  }
}

// Exposed for diagnosis from the browser console (and for tests that need to
// drop the transport to exercise reconnection).
window.plenaryShell = new Shell();
window.plenaryShell.start();
