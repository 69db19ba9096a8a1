/*
 * Satisfaction voting (满意度测评): big ballot buttons for voters, the chair's
 * console (open one vote or one per respondent department, live turnout bar,
 * close), and the result card every site sees the moment a vote closes.
 *
 * The hub holds the truth; this module draws `vote:opened`, `vote:turnout`,
 * `vote:result` and the `vote` section of state:sync, and sends `vote:open`,
 * `vote:open_batch`, `vote:cast`, `vote:close`.
 *
 * A ballot carries a client-chosen `ballot_id`, kept in sessionStorage until
 * the hub acknowledges it: a ballot sent just before the link dropped is
 * resent after reconnecting with the same id, and the hub answers with the
 * same receipt without counting it twice. The receipt (and, on this device
 * only, the choice it was for) stays in sessionStorage so that the voter can
 * check, once the vote is closed, that it is in the published list.
 */
import { el } from "../dom.js";

const STYLE = `
.vote { display: flex; flex-direction: column; gap: 16px; }
.vote-card { border: 1px solid var(--line, #ddd); border-radius: var(--radius, 10px); padding: 14px 16px;
  background: var(--surface, #fff); display: flex; flex-direction: column; gap: 12px; }
.vote-card h3 { margin: 0; font-size: 1.3rem; line-height: 1.35; }
.vote-meta { display: flex; flex-wrap: wrap; gap: 8px; color: var(--muted, #666); font-size: .95rem; align-items: center; }
.vote-tag { display: inline-block; padding: 2px 10px; border-radius: 999px; border: 1px solid var(--line, #ddd); }
.vote-tag.is-secret { background: #1f2937; color: #fff; border-color: #1f2937; }
.vote-countdown { font-variant-numeric: tabular-nums; font-weight: 700; color: var(--ink, #222); }
.vote-countdown.is-low { color: var(--danger, #c62828); }
.vote-options { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
.vote-option { min-height: 72px; font-size: 1.45rem; font-weight: 700; border-radius: var(--radius, 10px);
  border: 2px solid var(--line, #bbb); background: #fff; color: var(--ink, #222); cursor: pointer;
  touch-action: manipulation; padding: 8px 12px; }
.vote-option:hover { border-color: var(--accent, #9f1239); }
.vote-option[aria-pressed="true"] { background: var(--accent, #9f1239); border-color: var(--accent, #9f1239);
  color: var(--accent-ink, #fff); }
.vote-option:disabled { opacity: .6; cursor: progress; }
.vote-mine { font-size: 1.05rem; font-weight: 600; }
.vote-receipt { font-family: ui-monospace, monospace; font-size: .85rem; color: var(--muted, #666); word-break: break-all; }
.vote-bar { height: 22px; border-radius: 11px; background: #e5e7eb; overflow: hidden; }
.vote-bar-fill { height: 100%; background: var(--ok, #2e7d32); transition: width .3s ease; }
.vote-turnout { display: flex; justify-content: space-between; font-weight: 600; font-variant-numeric: tabular-nums; }
.vote-row { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; }
.vote-form { display: grid; gap: 10px; }
.vote-form label { display: flex; flex-direction: column; gap: 4px; font-weight: 600; }
.vote-form input[type=text], .vote-form select { min-height: var(--touch, 48px); font-size: 1rem; padding: 0 10px; }
.vote-form .vote-inline { flex-direction: row; align-items: center; gap: 10px; min-height: var(--touch, 48px); }
.vote-form .vote-inline input { width: 26px; height: 26px; }
.vote-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
.vote-verdict { font-size: clamp(2rem, 8vw, 3.4rem); font-weight: 800; line-height: 1.1; color: var(--accent, #9f1239); }
.vote-verdict[data-verdict="不满意"] { color: var(--danger, #c62828); }
.vote-counts { width: 100%; border-collapse: collapse; font-size: 1.1rem; font-variant-numeric: tabular-nums; }
.vote-counts td { padding: 6px 4px; border-bottom: 1px solid var(--line, #eee); }
.vote-counts td:last-child { text-align: right; font-weight: 700; }
.vote-figures { display: flex; flex-wrap: wrap; gap: 8px 18px; font-size: 1.05rem; }
.vote-figures b { font-variant-numeric: tabular-nums; }
.vote-invalid { color: var(--danger, #c62828); font-weight: 700; }
.vote-check-ok { color: var(--ok, #2e7d32); font-weight: 700; }
.vote-check-bad { color: var(--danger, #c62828); font-weight: 700; }
.vote-empty { color: var(--muted, #666); }
.vote-section-title { font-weight: 700; color: var(--muted, #666); margin: 0; }
`;

const STRINGS = {
  "zh-CN": {
    title: "满意度测评",
    none: "当前没有进行中的测评",
    secret: "无记名",
    named: "记名",
    base_eligible: "按应到人数计",
    base_present: "按开始时在线人数计",
    base_cast: "按实投票数计",
    closes_in: "剩余 {time}",
    no_deadline: "由主持人结束",
    turnout: "已投 {cast} / 应投 {eligible}",
    voted_choice: "已投：{choice}（结束前可以改投）",
    voted: "已投票（结束前可以改投）",
    not_eligible: "本次测评您不参加投票",
    sending: "正在提交…",
    retrying: "网络中断，恢复后自动重新提交",
    receipt: "回执：{receipt}",
    cast_failed: "投票未成功：{reason}",
    close: "结束测评",
    close_confirm: "确定结束“{subject}”的测评？",
    open_heading: "发起测评",
    subject: "测评事项",
    subject_default: "满意度测评",
    secret_label: "无记名投票",
    base_label: "计票基数",
    duration_label: "时限",
    no_limit: "不限时",
    minutes: "{n} 分钟",
    seconds: "{n} 秒",
    open: "发起测评",
    open_batch: "对各答复部门分别测评（{n} 个）",
    no_respondents: "名单中没有答复部门",
    opened_toast: "测评开始：{subject}",
    result_toast: "测评结果：{subject} — {verdict}",
    results: "测评结果",
    verdict: "结论",
    no_verdict: "无结论",
    rate: "满意率 {rate}",
    rate_none: "满意率 —",
    cast_of: "实投 {cast} / 应到 {eligible} / 开始时在线 {present}",
    valid: "有效（过半数参加投票）",
    invalid: "无效：参加投票者未过半数",
    check: "核验我的回执",
    counted: "您的选票已计入公示名单（第 {n} 条：{choice}）",
    not_counted: "公示名单中没有这张回执",
    audit_broken: "审计未通过：{reason}",
    failed: "操作失败：{reason}",
  },
  en: {
    title: "Satisfaction vote",
    none: "No vote in progress",
    secret: "Secret",
    named: "Named",
    base_eligible: "Counted against all eligible",
    base_present: "Counted against those online at the start",
    base_cast: "Counted against ballots cast",
    closes_in: "{time} left",
    no_deadline: "Closed by the chair",
    turnout: "Cast {cast} / eligible {eligible}",
    voted_choice: "You voted: {choice} (you may change it until the vote closes)",
    voted: "You have voted (you may change it until the vote closes)",
    not_eligible: "You do not vote in this one",
    sending: "Sending…",
    retrying: "Connection lost; your ballot is resent when it is back",
    receipt: "Receipt: {receipt}",
    cast_failed: "Ballot not accepted: {reason}",
    close: "Close the vote",
    close_confirm: "Close the vote on “{subject}”?",
    open_heading: "Open a vote",
    subject: "Subject",
    subject_default: "Satisfaction vote",
    secret_label: "Secret ballot",
    base_label: "Counting base",
    duration_label: "Time limit",
    no_limit: "No limit",
    minutes: "{n} min",
    seconds: "{n} s",
    open: "Open the vote",
    open_batch: "One vote per respondent department ({n})",
    no_respondents: "No respondent department in the roster",
    opened_toast: "Vote open: {subject}",
    result_toast: "Result: {subject} — {verdict}",
    results: "Results",
    verdict: "Verdict",
    no_verdict: "No verdict",
    rate: "Satisfaction {rate}",
    rate_none: "Satisfaction —",
    cast_of: "Cast {cast} / eligible {eligible} / online at the start {present}",
    valid: "Valid (more than half voted)",
    invalid: "Not valid: no more than half voted",
    check: "Check my receipt",
    counted: "Your ballot is in the published list (record {n}: {choice})",
    not_counted: "This receipt is not in the published list",
    audit_broken: "Audit failed: {reason}",
    failed: "Failed: {reason}",
  },
};

const OPTION_LABELS_EN = { "满意": "Satisfied", "基本满意": "Basically satisfied", "不满意": "Dissatisfied" };
const DURATIONS = [0, 60, 120, 300, 600];
const STORE = "plenary.vote.";


function injectStyle() {
  if (document.getElementById("voting-style")) return;
  document.head.append(el("style", { id: "voting-style", text: STYLE }));
}

function newBallotId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const store = {
  get(key) {
    try {
      return JSON.parse(sessionStorage.getItem(STORE + key) || "null");
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      if (value === null) sessionStorage.removeItem(STORE + key);
      else sessionStorage.setItem(STORE + key, JSON.stringify(value));
    } catch {
      /* private mode: the ballot still goes out, only the local memory is lost */
    }
  },
};

class VotePanel {
  constructor(ctx) {
    this.ctx = ctx;
    this.open = new Map(); // vote_id -> opened view + {cast, eligible, voted, choice}
    this.results = new Map(); // vote_id -> result
    this.sending = new Set(); // vote ids with a ballot in flight
    this.offset = 0; // server clock - local clock, in ms
    this.lastTopic = null; // the inquiry topic whose departments a batch vote is about
    this.body = ctx.panel("voting", "title");
    this.body.classList.add("vote");
    this.timer = setInterval(() => this.tick(), 1000);
  }

  get me() {
    return this.ctx.me || {};
  }

  get isChair() {
    return this.me.role === "chair";
  }

  label(option) {
    return this.ctx.lang === "en" ? OPTION_LABELS_EN[option] || option : option;
  }

  // ── state ──────────────────────────────────────────────────────────────

  load(section) {
    this.open.clear();
    this.results.clear();
    if (section?.server_time) this.offset = section.server_time * 1000 - Date.now();
    for (const vote of section?.open || []) this.open.set(vote.vote_id, { ...vote });
    for (const result of (section?.results || []).slice(0, 6).reverse()) this.results.set(result.vote_id, result);
    this.render();
    this.resendPending();
  }

  onOpened(data) {
    if (this.results.has(data.vote_id)) return;
    if (data.opened_at) this.offset = Date.parse(data.opened_at) - Date.now();
    const known = this.open.get(data.vote_id);
    this.open.set(data.vote_id, { cast: 0, eligible: null, voted: false, choice: null, ...known, ...data });
    if (!known) this.ctx.toast(this.ctx.t("opened_toast", { subject: data.subject }));
    this.render();
  }

  onTurnout(data) {
    const vote = this.open.get(data.vote_id);
    if (!vote || (vote.cast ?? 0) > data.cast) return;
    vote.cast = data.cast;
    vote.eligible = data.eligible;
    this.renderTurnout(data.vote_id);
  }

  onResult(data) {
    const wasOpen = this.open.delete(data.vote_id);
    const known = this.results.has(data.vote_id);
    this.results.delete(data.vote_id);
    this.results.set(data.vote_id, data);
    if (wasOpen || !known) {
      const verdict = data.verdict ? this.label(data.verdict) : this.ctx.t("no_verdict");
      this.ctx.toast(this.ctx.t("result_toast", { subject: data.subject || "", verdict }));
    }
    this.render();
  }

  // ── actions ────────────────────────────────────────────────────────────

  async cast(voteId, choice) {
    const pending = { choice, ballot_id: newBallotId() };
    store.set(`pending.${voteId}`, pending);
    await this.send(voteId, pending);
  }

  async send(voteId, pending) {
    this.sending.add(voteId);
    this.renderCard(voteId);
    const ack = await this.ctx.call("vote:cast", { vote_id: voteId, ...pending });
    this.sending.delete(voteId);
    const vote = this.open.get(voteId);
    if (ack.ok) {
      store.set(`pending.${voteId}`, null);
      store.set(`receipt.${voteId}`, { receipt: ack.receipt, choice: pending.choice });
      if (vote) {
        vote.voted = true;
        vote.choice = pending.choice;
      }
    } else if (ack.error.code === "offline" || ack.error.code === "timeout") {
      // Kept: resent with the same ballot_id after the next state:sync.
      if (vote) vote.retrying = true;
    } else {
      store.set(`pending.${voteId}`, null);
      this.ctx.toast(this.ctx.t("cast_failed", { reason: ack.error.message }), { kind: "error" });
    }
    if (vote) this.renderCard(voteId);
    else if (ack.ok) this.render(); // a closed vote's card gains the receipt check
  }

  resendPending() {
    // Closed votes too: the hub answers a ballot it counted with the same
    // receipt even after the close, and refuses one it never got with `closed`.
    for (const voteId of [...this.open.keys(), ...this.results.keys()]) {
      const pending = store.get(`pending.${voteId}`);
      if (pending && !this.sending.has(voteId)) this.send(voteId, pending);
    }
  }

  async close(voteId) {
    const ack = await this.ctx.call("vote:close", { vote_id: voteId });
    if (!ack.ok) this.ctx.toast(this.ctx.t("failed", { reason: ack.error.message }), { kind: "error" });
    else this.onResult(ack.result);
  }

  settingsFromForm(form) {
    const payload = { secret: form.querySelector("[name=secret]").checked, base: form.querySelector("[name=base]").value };
    const duration = Number(form.querySelector("[name=duration]").value);
    if (duration) payload.duration_s = duration;
    return payload;
  }

  async openOne(form) {
    const subject = form.querySelector("[name=subject]").value.trim() || this.ctx.t("subject_default");
    const ack = await this.ctx.call("vote:open", { subject, ...this.settingsFromForm(form) });
    if (!ack.ok) this.ctx.toast(this.ctx.t("failed", { reason: ack.error.message }), { kind: "error" });
  }

  async openBatch(form) {
    const respondents = this.respondents().map((p) => p.id);
    if (!respondents.length) return this.ctx.toast(this.ctx.t("no_respondents"), { kind: "error" });
    const ack = await this.ctx.call("vote:open_batch", { respondents, ...this.settingsFromForm(form) });
    if (!ack.ok) this.ctx.toast(this.ctx.t("failed", { reason: ack.error.message }), { kind: "error" });
  }

  /** The departments of the inquiry topic just held (or open), else every respondent present in the roster. */
  respondents() {
    const roster = this.ctx.state?.roster || [];
    const topical = (this.lastTopic?.respondents || []).map((id) => roster.find((p) => p.id === id)).filter(Boolean);
    return topical.length ? topical : roster.filter((p) => p.role === "respondent");
  }

  onInquiry(inquiry) {
    // Remember the last topic: the vote comes right after it closes.
    if (inquiry?.topic) this.lastTopic = inquiry.topic;
    this.renderBatchButton();
  }

  async check(voteId, box) {
    const mine = store.get(`receipt.${voteId}`);
    if (!mine) return;
    const response = await this.ctx.api(`/api/votes/${encodeURIComponent(voteId)}/verify?receipt=${encodeURIComponent(mine.receipt)}`);
    const body = await response.json().catch(() => ({}));
    const t = this.ctx.t;
    const mark = (ok) => { box.className = `vote-check-result ${ok ? "vote-check-ok" : "vote-check-bad"}`; };
    if (!response.ok) {
      mark(false);
      box.textContent = t("failed", { reason: body.error?.message || response.status });
    } else if (!body.audit?.ok) {
      mark(false);
      box.textContent = t("audit_broken", { reason: body.audit?.reason || "" });
    } else if (body.counted) {
      mark(true);
      box.textContent = t("counted", { n: body.position + 1, choice: this.label(body.choice) });
    } else {
      mark(false);
      box.textContent = t("not_counted");
    }
  }

  // ── drawing ────────────────────────────────────────────────────────────

  render() {
    const t = this.ctx.t;
    const parts = [];
    if (this.isChair) parts.push(this.chairForm());
    if (!this.open.size) parts.push(el("p", { class: "vote-empty", text: t("none") }));
    for (const voteId of this.open.keys()) parts.push(el("div", { "data-vote-slot": voteId }));
    if (this.results.size) {
      parts.push(el("h3", { class: "vote-section-title", text: t("results") }));
      for (const result of [...this.results.values()].reverse()) parts.push(this.resultCard(result));
    }
    // Keep what the chair has half typed across redraws.
    const typed = this.formValues();
    this.body.replaceChildren(...parts);
    if (typed) this.restoreForm(typed);
    for (const voteId of this.open.keys()) this.renderCard(voteId);
  }

  formValues() {
    const form = this.body.querySelector(".vote-form");
    if (!form) return null;
    return Object.fromEntries([...form.querySelectorAll("[name]")].map((i) => [i.name, i.type === "checkbox" ? i.checked : i.value]));
  }

  restoreForm(values) {
    for (const input of this.body.querySelectorAll(".vote-form [name]")) {
      if (!(input.name in values)) continue;
      if (input.type === "checkbox") input.checked = values[input.name];
      else input.value = values[input.name];
    }
  }

  renderBatchButton() {
    const button = this.body.querySelector(".vote-open-batch");
    if (button) button.textContent = this.ctx.t("open_batch", { n: this.respondents().length });
  }

  chairForm() {
    const t = this.ctx.t;
    const form = el("form", { class: "vote-form", onsubmit: (e) => { e.preventDefault(); this.openOne(form); } },
      el("h3", { class: "vote-section-title", text: t("open_heading") }),
      el("label", {}, t("subject"), el("input", { type: "text", name: "subject", maxlength: "300", placeholder: t("subject_default") })),
      el("label", { class: "vote-inline" }, el("input", { type: "checkbox", name: "secret", checked: true }), t("secret_label")),
      el("div", { class: "vote-grid" },
        el("label", {}, t("base_label"), el("select", { name: "base" },
          ...["eligible", "present", "cast"].map((b) => el("option", { value: b, text: t(`base_${b}`) })))),
        el("label", {}, t("duration_label"), el("select", { name: "duration" },
          ...DURATIONS.map((s) => el("option", { value: String(s), text: s === 0 ? t("no_limit") : s < 60 ? t("seconds", { n: s }) : t("minutes", { n: s / 60 }) }))))),
      el("div", { class: "vote-row" },
        el("button", { type: "submit", class: "button primary vote-open", text: t("open") }),
        el("button", { type: "button", class: "button vote-open-batch", text: t("open_batch", { n: this.respondents().length }),
          onclick: () => this.openBatch(form) })));
    return form;
  }

  renderCard(voteId) {
    const slot = this.body.querySelector(`[data-vote-slot="${CSS.escape(voteId)}"]`);
    const vote = this.open.get(voteId);
    if (!slot || !vote) return;
    const t = this.ctx.t;
    const eligible = (vote.eligible_roles || ["member"]).includes(this.me.role);
    const sending = this.sending.has(voteId);
    const mine = store.get(`receipt.${voteId}`);
    const choice = vote.choice || (vote.voted ? mine?.choice : null) || null;
    const card = el("article", { class: "vote-card vote-open-card", "data-vote-id": voteId },
      el("h3", { text: vote.subject }),
      el("div", { class: "vote-meta" },
        el("span", { class: `vote-tag${vote.secret ? " is-secret" : ""}`, text: t(vote.secret ? "secret" : "named") }),
        el("span", { text: t(`base_${vote.base}`) }),
        el("span", { class: "vote-countdown", "data-closes-at": vote.closes_at || "" })),
      this.turnoutBox(vote));
    if (eligible) {
      card.append(el("div", { class: "vote-options", role: "group", "aria-label": vote.subject },
        ...vote.options.map((option) => el("button", {
          type: "button", class: "vote-option", "data-choice": option, "aria-pressed": String(option === choice),
          disabled: sending, text: this.label(option), onclick: () => this.cast(voteId, option),
        }))));
      let status = null;
      if (sending) status = t("sending");
      else if (vote.retrying && store.get(`pending.${voteId}`)) status = t("retrying");
      else if (choice) status = t("voted_choice", { choice: this.label(choice) });
      else if (vote.voted) status = t("voted");
      if (status) card.append(el("div", { class: "vote-mine", role: "status", text: status }));
      if (mine && vote.voted) card.append(el("div", { class: "vote-receipt", text: t("receipt", { receipt: mine.receipt }) }));
    } else {
      card.append(el("div", { class: "vote-empty", text: t("not_eligible") }));
    }
    if (this.isChair) {
      card.append(el("div", { class: "vote-row" }, el("button", {
        type: "button", class: "button danger vote-close", text: t("close"),
        onclick: () => { if (window.confirm(t("close_confirm", { subject: vote.subject }))) this.close(voteId); },
      })));
    }
    slot.replaceChildren(card);
    this.tick();
  }

  turnoutBox(vote) {
    const t = this.ctx.t;
    const cast = vote.cast ?? 0;
    const eligible = vote.eligible ?? 0;
    const percent = eligible ? Math.round((100 * cast) / eligible) : 0;
    return el("div", { class: "vote-turnout-box" },
      el("div", { class: "vote-turnout" },
        el("span", { class: "vote-turnout-text", text: t("turnout", { cast, eligible }) }),
        el("span", { text: `${percent}%` })),
      el("div", { class: "vote-bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(eligible),
        "aria-valuenow": String(cast) }, el("div", { class: "vote-bar-fill", style: `width: ${percent}%` })));
  }

  renderTurnout(voteId) {
    const card = this.body.querySelector(`[data-vote-id="${CSS.escape(voteId)}"] .vote-turnout-box`);
    const vote = this.open.get(voteId);
    if (card && vote) card.replaceWith(this.turnoutBox(vote));
  }

  resultCard(result) {
    const t = this.ctx.t;
    const rate = result.satisfaction_rate === null || result.satisfaction_rate === undefined
      ? t("rate_none") : t("rate", { rate: `${(result.satisfaction_rate * 100).toFixed(1)}%` });
    const options = result.options || Object.keys(result.counts || {});
    const card = el("article", { class: "vote-card vote-result", "data-result-id": result.vote_id },
      el("h3", { text: result.subject || "" }),
      el("div", { class: "vote-verdict", "data-verdict": result.verdict || "",
        text: result.verdict ? this.label(result.verdict) : t("no_verdict") }),
      el("table", { class: "vote-counts" }, el("tbody", {},
        ...options.map((o) => el("tr", { "data-option": o }, el("td", { text: this.label(o) }),
          el("td", { text: String(result.counts?.[o] ?? 0) }))))),
      el("div", { class: "vote-figures" },
        el("span", { class: "vote-rate", text: rate }),
        el("span", { text: t("cast_of", { cast: result.cast, eligible: result.eligible, present: result.present }) }),
        el("span", { text: t(`base_${result.base}`) })),
      el("div", { class: result.valid ? "" : "vote-invalid", text: t(result.valid ? "valid" : "invalid") }));
    if (store.get(`receipt.${result.vote_id}`)) {
      const box = el("div", { class: "vote-check-result", role: "status" });
      card.append(el("div", { class: "vote-row" },
        el("button", { type: "button", class: "button vote-check", text: t("check"), onclick: () => this.check(result.vote_id, box) })), box);
    }
    return card;
  }

  tick() {
    const now = Date.now() + this.offset;
    for (const node of this.body.querySelectorAll(".vote-countdown")) {
      const closesAt = node.dataset.closesAt;
      if (!closesAt) {
        node.textContent = this.ctx.t("no_deadline");
        continue;
      }
      const left = Math.max(0, Math.ceil((Date.parse(closesAt) - now) / 1000));
      const time = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
      node.textContent = this.ctx.t("closes_in", { time });
      node.classList.toggle("is-low", left <= 10);
    }
  }
}

let panel = null;

export default {
  id: "voting",
  order: 40,
  strings: STRINGS,
  mount(ctx) {
    injectStyle();
    panel = new VotePanel(ctx);
    ctx.on("vote:opened", (data) => panel.onOpened(data));
    ctx.on("vote:turnout", (data) => panel.onTurnout(data));
    ctx.on("vote:result", (data) => panel.onResult(data));
    // The batch button counts respondents: redraw the console when the roster changes.
    ctx.on("roster", () => panel.isChair && panel.renderBatchButton());
    ctx.on("inquiry:state", (data) => panel.onInquiry(data));
    panel.onInquiry(ctx.state?.inquiry);
    panel.load(ctx.state?.vote);
  },
  sync(ctx, state) {
    panel?.onInquiry(state?.inquiry);
    panel?.load(state?.vote);
  },
  onLanguage() {
    panel?.render();
  },
};
