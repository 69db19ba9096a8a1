/*
 * The big screen (/screen?token=…): a hall's projector view of one meeting.
 *
 * Opened from the office console by a display link: the join link of an
 * `observer` participant (e.g. named 大屏幕) with /screen instead of /join.
 * It has no controls (a small fullscreen button aside) and shows, readable
 * from the back row: the floor holder's video large with their name, role
 * and site; the inquiry's topic, stage and countdown; the raised hands; and
 * the satisfaction vote's live turnout, then its result as a bar chart.
 *
 * It reuses the meeting client's token handling (session.js: the token is
 * taken from the link once into sessionStorage and removed from the address
 * bar) and its connection (connection.js: seq gaps re-sync); the rest is
 * here: floor.js (who holds the floor, countdown, queue), vote.js (the vote
 * panel and when a result goes away), video.js (what it receives).
 * Language: zh-CN, or English with ?lang=en (not remembered, unlike the
 * meeting client's switch: a projector's page is opened from a link).
 */
import { Connection } from "../connection.js";
import { I18n, LANGUAGES, SHELL_STRINGS, relabel } from "../i18n.js";
import { takeToken } from "../session.js";
import { Floor } from "./floor.js";
import { STRINGS } from "./strings.js";
import { FloorVideo } from "./video.js";
import { VoteBoard } from "./vote.js";

const $ = (id) => document.getElementById(id);

class Screen {
  constructor() {
    this.i18n = new I18n();
    const asked = new URLSearchParams(window.location.search).get("lang");
    if (LANGUAGES.includes(asked)) this.i18n.lang = asked;
    this.t = this.i18n.translator([STRINGS]);
    this.state = null;
    this.roster = [];
    const people = {
      participant: (id) => this.roster.find((p) => p.id === id),
      roster: () => this.roster,
    };
    this.video = new FloorVideo({
      videoBox: $("video-box"), video: $("floor-video"), audioBox: $("audio"),
      call: (event, payload) => this.connection.call(event, payload),
      onSoundBlocked: (blocked) => this.showSoundHint(blocked),
    });
    this.floor = new Floor({ t: this.t, ...people, onFloor: (id) => this.video.setFloor(id), onInquiry: (s) => this.votes.onInquiry(s) }, {
      topic: $("topic"), stage: $("stage-label"), caption: $("caption"), name: $("floor-name"), who: $("floor-who"),
      timer: $("timer"), timerLabel: $("timer-label"), countdown: $("countdown"), queue: $("queue"), queueList: $("queue-list"),
      meeting: () => this.state?.meeting?.title || "",
    });
    this.votes = new VoteBoard({ t: this.t, lang: () => this.i18n.lang, resync: () => this.connection.requestResync() }, { root: $("vote"), body: document.body });
  }

  start() {
    document.documentElement.lang = this.i18n.lang;
    relabel(document, this.t);
    $("video-box").dataset.empty = this.t("no_video");
    this.wireControls();
    const token = takeToken();
    if (!token) return this.refuse(this.t("no_token"));
    if (typeof window.io !== "function") return this.refuse(this.t("no_client"));
    this.connection = new Connection(window.io, token, {
      onSync: (state) => this.onSync(state),
      onEvent: (event, data) => this.onEvent(event, data),
      onStatus: (status, detail) => this.onStatus(status, detail),
    });
    this.connection.start();
  }

  wireControls() {
    const button = $("fullscreen");
    button.title = button.ariaLabel = this.t("fullscreen");
    button.addEventListener("click", () => {
      if (document.fullscreenElement) document.exitFullscreen?.();
      else document.documentElement.requestFullscreen?.().catch(() => {});
    });
    // A projector's browser may refuse sound until someone touches the page once.
    for (const kind of ["click", "keydown", "touchstart"]) {
      document.addEventListener(kind, () => this.video.resumePlayback(), { passive: true });
    }
  }

  showSoundHint(blocked) {
    const status = $("status");
    if (status.dataset.status !== "online") return;
    status.textContent = blocked ? this.t("sound_blocked") : "";
    status.hidden = !blocked;
  }

  onStatus(status, detail) {
    if (status === "sync_failed") return;
    const box = $("status");
    box.dataset.status = status;
    if (status === "refused") return this.refuse(this.friendlyReason(detail), detail);
    const words = { connecting: "connecting", reconnecting: "reconnecting", offline: "status_offline" };
    box.textContent = words[status] ? this.t(words[status]) : "";
    box.hidden = !words[status];
    if (status === "offline") setTimeout(() => this.connection.reconnect(), 3000); // a screen has no one to click
  }

  /** Say plainly why this screen cannot show the meeting (a missing, forged or expired link). */
  refuse(message, raw = null) {
    document.body.classList.add("is-refused");
    $("status").hidden = true;
    $("refusal").hidden = false;
    $("refusal-title").textContent = this.t("refused_title");
    const reason = $("refusal-reason");
    reason.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = message || raw || "";
    reason.append(strong);
    if (raw && raw !== message) {
      const detail = document.createElement("span");
      detail.className = "sc-refusal-raw";
      detail.textContent = this.t("refused_reason", { reason: raw });
      reason.append(document.createElement("br"), detail);
    }
  }

  /** The shell's own words for a reason the hub gives (matched by prefix, as app.js does). */
  friendlyReason(reason) {
    const key = Object.keys(SHELL_STRINGS["zh-CN"])
      .filter((k) => k.startsWith("reason:") && String(reason).startsWith(k.slice("reason:".length)))
      .sort((a, b) => b.length - a.length)[0];
    return key ? this.t(key) : null;
  }

  onSync(state) {
    this.state = state;
    this.roster = state.roster || [];
    document.body.classList.remove("is-refused");
    $("refusal").hidden = true;
    const title = state.meeting?.title || "";
    $("meeting-title").textContent = title;
    document.title = `${title} · ${this.t("screen_title")}`;
    this.video.sync(state);
    this.votes.load(state.vote, state.inquiry);
    this.floor.load(state.inquiry);
    document.body.classList.add("is-ready");
  }

  onEvent(event, data) {
    switch (event) {
      case "roster:presence": {
        const online = new Set(data?.online || []);
        const offline = new Set(data?.offline || []);
        this.roster = this.roster.map((p) => (online.has(p.id) ? { ...p, online: true } : offline.has(p.id) ? { ...p, online: false } : p));
        this.floor.render();
        break;
      }
      case "roster":
        if (Array.isArray(data?.participants)) this.roster = data.participants;
        this.floor.render();
        break;
      case "inquiry:state":
        this.floor.take(data);
        break;
      case "media:active-speaker":
        this.floor.setActiveSpeaker(data?.participant_id ?? null);
        break;
      case "media:tracks":
        this.video.setTracks(data?.tracks || []);
        break;
      case "media:offer":
        this.video.offer(data);
        break;
      case "vote:opened":
        this.votes.onOpened(data);
        break;
      case "vote:turnout":
        this.votes.onTurnout(data);
        break;
      case "vote:result":
        this.votes.onResult(data);
        break;
      default:
        break;
    }
  }
}

// Exposed for diagnosis from the browser console (and for the browser tests).
window.plenaryScreen = new Screen();
window.plenaryScreen.start();
