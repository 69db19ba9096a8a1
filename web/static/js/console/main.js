/*
 * The congress office's console (/console): where the office staff prepare
 * meetings without writing a script. Sign in (user name and password, or
 * the admin token once in the link), then four tabs: 站点 Sites (the tree,
 * imports, terminal links), 人员 People (the directory of deputies and staff,
 * imports, a person's meetings), 会议 Meetings (new meeting, participants from
 * the directory, open/start/close, invitations) and 账号 Accounts (admins
 * only). An operator sees what the hub answers for their site's subtree;
 * the hub enforces it, the page only shows.
 *
 * The address keeps the tab (#sites, #people, #meetings, #meetings/<id>,
 * #accounts) so a reload or the back button lands where the clerk was.
 * docs/protocol.md, "The console (`/console`)", describes the page.
 */
import { I18n, relabel } from "../i18n.js";
import { Accounts } from "./accounts.js";
import { Api, plainError } from "./api.js";
import { Meetings } from "./meetings.js";
import { People } from "./people.js";
import { Session } from "./signin.js";
import { Sites } from "./sites.js";
import { STRINGS } from "./strings.js";
import { bindPrintSheet, confirmAction, toast } from "./widgets.js";

const $ = (id) => document.getElementById(id);
const TABS = ["sites", "people", "meetings", "accounts"];

class Console {
  constructor() {
    this.i18n = new I18n();
    this.t = this.i18n.translator([STRINGS]);
    this.session = new Session();
    this.api = new Api({ getToken: () => this.session.token, onExpired: () => this.expired() });
    const ctx = {
      api: this.api,
      t: this.t,
      lang: () => this.i18n.lang,
      toast,
      confirm: confirmAction,
      fail: (error) => toast(plainError(this.t, error), { kind: "error" }),
      plain: (error) => plainError(this.t, error),
      session: this.session,
      go: (hash) => { window.location.hash = hash; },
      sites: () => this.loadSites(),
      forgetSites: () => { this.sitesPromise = null; },
    };
    this.ctx = ctx;
    this.tabs = {
      sites: new Sites(ctx, $("tab-sites")),
      people: new People(ctx, $("tab-people")),
      meetings: new Meetings(ctx, $("tab-meetings")),
      accounts: new Accounts(ctx, $("tab-accounts")),
    };
    this.sitesPromise = null;
  }

  start() {
    for (const button of document.querySelectorAll("[data-lang]")) {
      button.addEventListener("click", () => this.i18n.setLanguage(button.dataset.lang));
    }
    this.i18n.onChange(() => this.applyLanguage());
    for (const button of document.querySelectorAll("[data-tab]")) {
      button.addEventListener("click", () => {
        // The tab already open is loaded again: what others changed meanwhile shows.
        if (window.location.hash.replace(/^#/, "") === button.dataset.tab) this.route();
        else window.location.hash = button.dataset.tab;
      });
    }
    $("signin-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.signIn();
    });
    $("signout").addEventListener("click", () => this.signOut());
    window.addEventListener("hashchange", () => this.route());
    bindPrintSheet();
    this.applyLanguage();
    if (this.session.token) this.enter();
    else this.showSignIn(this.session.expiredOnLoad ? this.t("session_expired") : "");
  }

  /** The sites the session may see (GET /api/sites), loaded once and shared by the tabs. */
  loadSites() {
    if (!this.sitesPromise) {
      this.sitesPromise = this.api.get("/api/sites").catch((error) => {
        this.sitesPromise = null;
        throw error;
      });
    }
    return this.sitesPromise;
  }

  applyLanguage() {
    const lang = this.i18n.lang;
    document.documentElement.lang = lang;
    for (const button of document.querySelectorAll("[data-lang]")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    relabel(document, this.t);
    for (const node of document.querySelectorAll("[data-t-placeholder]")) node.placeholder = this.t(node.dataset.tPlaceholder);
    document.title = `${this.t("console_title")} · Plenary`;
    this.renderWho();
    if (this.active) this.tabs[this.active].render?.();
  }

  renderWho() {
    const who = $("who");
    const session = this.session.current;
    who.hidden = !session;
    if (!session) return;
    const role = this.t(`account_role:${session.role}`);
    who.textContent = session.username ? `${session.username} · ${role}` : role;
  }

  showSignIn(message = "") {
    $("workspace").hidden = true;
    $("signout").hidden = true;
    $("signin").hidden = false;
    const note = $("signin-message");
    note.textContent = message;
    note.hidden = !message;
    this.renderWho();
    $("signin-form").elements.username.focus();
  }

  async signIn() {
    const form = $("signin-form");
    const button = form.querySelector("[data-action=sign-in]");
    button.disabled = true;
    try {
      await this.session.signIn(this.api, form.elements.username.value.trim(), form.elements.password.value);
      form.elements.password.value = "";
      this.enter();
    } catch (error) {
      const words = error.status === 401 ? this.t("wrong_password")
        : error.status === 429 ? this.t("too_many_tries")
        : plainError(this.t, error);
      this.showSignIn(words);
    } finally {
      button.disabled = false;
    }
  }

  async signOut() {
    await this.session.signOut(this.api);
    this.leave();
    this.showSignIn(this.t("signed_out"));
  }

  /** A 401 from any call: the session is over (expired, signed out elsewhere, revoked). */
  expired() {
    if (!this.session.current) return;
    this.session.forget();
    this.leave();
    this.showSignIn(this.t("session_expired"));
  }

  leave() {
    this.sitesPromise = null;
    this.active = null;
    for (const tab of Object.values(this.tabs)) tab.reset?.();
  }

  enter() {
    $("signin").hidden = true;
    $("workspace").hidden = false;
    $("signout").hidden = false;
    document.querySelector('[data-tab="accounts"]').hidden = !this.session.isAdmin;
    this.renderWho();
    this.route();
  }

  route() {
    if (!this.session.token) return;
    const [name, ...rest] = window.location.hash.replace(/^#/, "").split("/");
    let tab = TABS.includes(name) ? name : "sites";
    if (tab === "accounts" && !this.session.isAdmin) tab = "sites";
    for (const button of document.querySelectorAll("[data-tab]")) {
      const on = button.dataset.tab === tab;
      button.setAttribute("aria-selected", String(on));
      button.classList.toggle("is-active", on);
    }
    for (const panel of document.querySelectorAll("[data-panel]")) panel.hidden = panel.dataset.panel !== tab;
    this.active = tab;
    this.tabs[tab].show(rest.map(decodeURIComponent));
  }
}

const app = new Console();
window.plenaryConsole = app; // for tests and a look from the devtools
app.start();
