/*
 * The satisfaction vote on the big screen: while a vote is open, its subject
 * and live turnout (cast / eligible, a bar); when it closes, its result: the
 * verdict in very large type, a bar per option with its count and share of
 * the ballots cast, valid or not, and the satisfaction rate.
 *
 * Only aggregates: the events carry no voter's choice, and nothing else is
 * fetched.
 *
 * How long a result stays: until the next vote opens, or until the inquiry
 * moves on (another topic, stage, floor holder or respondent than when the
 * result came; a raised hand is not moving on). Several votes opened at once
 * (vote:open_batch, one per department) are shown together, and so are
 * their results. Opened afresh (or after a reconnect), the page shows the
 * newest result only if it closed after the inquiry's last timed change
 * (topic opened, timer started).
 */
import { el } from "../dom.js";
import { OPTION_LABELS_EN } from "./strings.js";

const DEFAULT_OPTIONS = ["满意", "基本满意", "不满意"];
const TONE = { "满意": "good", "基本满意": "fair", "不满意": "bad" };

function inquiryKey(state) {
  if (!state?.topic || !state.stage || state.stage === "idle") return `idle:${state?.topic?.id || ""}`;
  return [state.topic.id, state.stage, state.speaker || "", state.respondent || ""].join("|");
}

/** The last moment (epoch s, hub clock) the inquiry visibly changed, as far as its state tells. */
function inquiryMoment(state) {
  return Math.max(state?.topic?.opened_at || 0, state?.timer?.started_at || 0);
}

function percent(part, whole) {
  if (!whole) return "0%";
  const value = Math.round((1000 * part) / whole) / 10;
  return `${value}%`;
}

export class VoteBoard {
  /**
   * @param {{t, lang, resync}} ctx
   * @param {{root: HTMLElement, body: HTMLElement}} nodes
   */
  constructor(ctx, nodes) {
    this.ctx = ctx;
    this.root = nodes.root;
    this.body = nodes.body;
    this.open = new Map(); // vote_id → opened fields + {cast, eligible}
    this.shown = []; // results on screen, oldest first
    this.shownKey = null; // the inquiry's key when they came
    this.seen = new Set(); // result vote ids already dealt with
    this.inquiry = null;
  }

  label(option) {
    return this.ctx.lang() === "en" ? OPTION_LABELS_EN[option] || option : option;
  }

  load(section, inquiry) {
    this.inquiry = inquiry || this.inquiry;
    this.open.clear();
    for (const vote of section?.open || []) this.open.set(vote.vote_id, { ...vote });
    const results = section?.results || []; // newest first
    const fresh = results.filter((r) => !this.seen.has(r.vote_id));
    const known = new Map(results.map((r) => [r.vote_id, r]));
    this.shown = this.shown.map((r) => known.get(r.vote_id)).filter(Boolean);
    const newest = fresh[0];
    if (newest && this.open.size === 0) {
      const closed = Date.parse(newest.closed_at || "") / 1000;
      if (!(closed < inquiryMoment(this.inquiry))) {
        const batch = newest.batch_id ? fresh.filter((r) => r.batch_id === newest.batch_id) : [newest];
        this.shown = batch.reverse();
        this.shownKey = inquiryKey(this.inquiry);
      }
    }
    for (const r of results) this.seen.add(r.vote_id);
    this.render();
  }

  onOpened(data) {
    if (this.seen.has(data.vote_id)) return;
    this.open.set(data.vote_id, { cast: 0, eligible: null, ...this.open.get(data.vote_id), ...data });
    this.shown = [];
    this.render();
    // vote:opened does not say how many may vote (the first vote:turnout does); state:sync does.
    if (this.open.get(data.vote_id).eligible == null) this.ctx.resync();
  }

  onTurnout(data) {
    const vote = this.open.get(data.vote_id);
    if (!vote || (vote.cast ?? 0) > data.cast) return;
    vote.cast = data.cast;
    vote.eligible = data.eligible;
    if (!this.renderTurnout(data.vote_id)) this.render();
  }

  onResult(data) {
    this.open.delete(data.vote_id);
    const first = !this.seen.has(data.vote_id);
    this.seen.add(data.vote_id);
    const onScreen = this.shown.some((r) => r.vote_id === data.vote_id);
    if (first || onScreen) {
      // A batch's results gather on screen as they come; any other result replaces what is there.
      const sameBatch = data.batch_id && this.shown.every((r) => r.batch_id === data.batch_id);
      this.shown = sameBatch ? [...this.shown.filter((r) => r.vote_id !== data.vote_id), data] : [data];
      this.shownKey = inquiryKey(this.inquiry);
    }
    this.render();
  }

  onInquiry(state) {
    this.inquiry = state;
    if (this.shown.length && inquiryKey(state) !== this.shownKey) {
      this.shown = [];
      this.render();
    }
  }

  // ── drawing ──────────────────────────────────────────────────────────────

  render() {
    const { t } = this.ctx;
    const open = [...this.open.values()];
    const mode = open.length ? "open" : this.shown.length ? "result" : null;
    this.root.hidden = !mode;
    this.body.classList.toggle("has-vote", !!mode);
    if (!mode) return this.root.replaceChildren();
    this.root.dataset.mode = mode;
    const items = mode === "open" ? open : this.shown;
    this.root.classList.toggle("is-many", items.length > 1);
    this.root.classList.toggle("is-lots", items.length > 3);
    const heading = el("div", { class: "sc-vote-kind", text: t(mode === "open" ? "vote_open" : "vote_result") });
    const cards = items.map((item) => (mode === "open" ? this.openCard(item) : this.resultCard(item)));
    this.root.replaceChildren(heading, el("div", { class: "sc-vote-cards" }, ...cards));
  }

  openCard(vote) {
    const card = el("article", { class: "sc-vote-card", "data-vote": vote.vote_id },
      el("div", { class: "sc-vote-subject", text: vote.subject || "" }),
      el("div", { class: "sc-turnout" },
        el("span", { class: "sc-turnout-label", text: this.ctx.t("turnout") }),
        el("span", { class: "sc-turnout-figure" })),
      el("div", { class: "sc-progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" }, el("div", { class: "sc-progress-fill" })));
    this.fillTurnout(card, vote);
    return card;
  }

  fillTurnout(card, vote) {
    const cast = vote.cast ?? 0;
    const eligible = vote.eligible;
    card.querySelector(".sc-turnout-figure").textContent =
      eligible == null ? String(cast) : this.ctx.t("cast_of", { cast, eligible });
    const share = eligible ? Math.min(1, cast / eligible) : 0;
    card.querySelector(".sc-progress-fill").style.width = `${(share * 100).toFixed(1)}%`;
    card.querySelector(".sc-progress").setAttribute("aria-valuenow", String(Math.round(share * 100)));
  }

  /** Update one open card in place; false when it is not on screen. */
  renderTurnout(voteId) {
    const card = this.root.querySelector(`.sc-vote-card[data-vote="${CSS.escape(voteId)}"]`);
    if (!card || this.root.dataset.mode !== "open") return false;
    this.fillTurnout(card, this.open.get(voteId));
    return true;
  }

  resultCard(result) {
    const { t } = this.ctx;
    const counts = result.counts || {};
    const options = result.options?.length ? result.options : Object.keys(counts).length ? Object.keys(counts) : DEFAULT_OPTIONS;
    const cast = result.cast ?? Object.values(counts).reduce((a, b) => a + b, 0);
    const most = Math.max(1, ...options.map((o) => counts[o] || 0));
    const bars = options.map((option) => {
      const n = counts[option] || 0;
      return el("div", { class: "sc-bar", "data-option": option, "data-tone": TONE[option] || "other" },
        el("span", { class: "sc-bar-label", text: this.label(option) }),
        el("span", { class: "sc-bar-track" }, el("span", { class: "sc-bar-fill", style: `width: ${(100 * n) / most}%` })),
        el("span", { class: "sc-bar-count", text: String(n) }),
        el("span", { class: "sc-bar-share", text: percent(n, cast) }));
    });
    const verdict = result.verdict;
    const figures = [
      el("span", { class: result.valid ? "sc-valid" : "sc-invalid", "data-valid": String(!!result.valid), text: t(result.valid ? "valid" : "invalid") }),
      el("span", { class: "sc-figures", text: t("figures", { eligible: result.eligible ?? "–", cast }) }),
    ];
    if (typeof result.satisfaction_rate === "number") {
      figures.push(el("span", { class: "sc-rate", text: t("satisfaction_rate", { rate: percent(result.satisfaction_rate, 1) }) }));
    }
    return el("article", { class: "sc-vote-card sc-result", "data-vote": result.vote_id },
      el("div", { class: "sc-vote-subject", text: result.subject || "" }),
      el("div", { class: "sc-verdict", "data-verdict": verdict || "", "data-tone": TONE[verdict] || "other", text: verdict ? this.label(verdict) : t("no_verdict") }),
      el("div", { class: "sc-chart" }, ...bars),
      el("div", { class: "sc-result-figures" }, ...figures));
  }
}
