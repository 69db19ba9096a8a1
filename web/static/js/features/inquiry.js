/*
 * Live special inquiry (专题询问): the big countdown everyone sees, the
 * raise-hand button for members and deputies, and the chair's console
 * (open topic, queue in order, grant, answer, follow-up, end turn, close,
 * floor control). The server holds the state machine; this module only draws
 * `inquiry:state` and sends `inquiry:command` / `inquiry:hand`.
 *
 * The clock: every inquiry:state carries server_time (epoch s). We keep
 * offset = server_time - local time at receipt, so the countdown is
 * duration_s - (local now + offset - started_at) whatever this device's clock says.
 */
import { el } from "../dom.js";

const OPERATORS = new Set(["chair", "clerk"]);
const ASKERS = new Set(["member", "deputy"]);

const STYLE = `
.inq { display: flex; flex-direction: column; gap: 14px; }
.inq-board { display: grid; grid-template-columns: 1fr auto; gap: 10px 18px; align-items: center;
  border: 1px solid var(--line, #ddd); border-radius: var(--radius, 10px); padding: 14px 16px; background: var(--surface, #fff); }
.inq-topic { font-size: 1.25rem; font-weight: 700; grid-column: 1 / -1; }
.inq-who { display: flex; flex-direction: column; gap: 6px; font-size: 1.1rem; }
.inq-who .inq-label { color: var(--muted, #666); font-size: .9rem; margin-right: .4em; }
.inq-stage { display: inline-block; padding: 4px 12px; border-radius: 999px; background: var(--accent, #b3261e);
  color: var(--accent-ink, #fff); font-weight: 600; }
.inq-stage[data-stage="idle"] { background: var(--line, #ddd); color: var(--ink, #222); }
.inq-countdown { font-variant-numeric: tabular-nums; font-size: clamp(3rem, 11vw, 6.5rem); font-weight: 800;
  line-height: 1; text-align: right; min-width: 4ch; }
.inq-countdown.is-low { color: var(--warn, #b26a00); }
.inq-countdown.is-over { color: var(--danger, #c62828); }
.inq-over-badge { color: var(--danger, #c62828); font-weight: 700; text-align: right; }
.inq-row { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; }
.inq button { min-height: var(--touch, 48px); min-width: var(--touch, 48px); font-size: 1rem; }
.inq .inq-hand { font-size: 1.2rem; padding: 0 28px; }
.inq-queue { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
.inq-queue li { display: flex; align-items: center; gap: 12px; padding: 6px 10px; border: 1px solid var(--line, #ddd);
  border-radius: var(--radius, 10px); }
.inq-queue .inq-pos { font-weight: 700; min-width: 2ch; }
.inq-queue .inq-name { flex: 1; }
.inq-section-title { font-weight: 600; color: var(--muted, #666); margin: 4px 0; }
.inq-form { display: grid; gap: 10px; }
.inq-form label { display: flex; flex-direction: column; gap: 4px; }
.inq-form input[type=text], .inq-form input[type=number] { min-height: var(--touch, 48px); font-size: 1rem; padding: 0 10px; }
.inq-form .inq-inline { flex-direction: row; align-items: center; gap: 10px; min-height: var(--touch, 48px); }
.inq-form .inq-inline input { width: 24px; height: 24px; }
.inq-durations { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 10px; }
.inq-muted { color: var(--muted, #666); }
`;

const STRINGS = {
  "zh-CN": {
    title: "专题询问",
    no_topic: "尚未开始询问议题",
    topic: "议题",
    stage_idle: "等待",
    stage_report: "工作报告",
    stage_question: "提问",
    stage_answer: "答复",
    stage_follow_up: "追问",
    speaker: "发言",
    holder: "提问人",
    respondent: "答询部门",
    overtime: "已超时",
    follow_ups_left: "本轮剩余追问：{n}",
    raise: "举手发言",
    lower: "放下举手",
    queue_pos: "您在队列中的位置：第 {n} 位",
    you_have_floor: "您正在发言",
    not_allowed: "本议题不接受代表提问",
    queue: "举手队列",
    queue_empty: "暂无人举手",
    grant: "准许发言",
    open_title: "开启询问议题",
    topic_title: "议题名称",
    respondents: "答询部门",
    no_respondents: "本会议没有答询部门",
    report_min: "报告时长（分钟）",
    question_min: "提问时长（分钟）",
    answer_min: "答复时长（分钟）",
    follow_ups: "每轮追问次数",
    allow_deputies: "允许代表提问",
    open: "开启议题",
    start_report: "{name} 作工作报告",
    answer_by: "请 {name} 答复",
    follow_up: "追问",
    end_turn: "结束本轮",
    close_topic: "结束议题",
    floor_on: "发言控制：开（仅主持人与发言人话筒）",
    floor_off: "发言控制：关",
    need_title: "请填写议题名称并选择答询部门",
    "error:state": "当前阶段不允许此操作",
    "error:forbidden": "您没有此权限",
    "error:invalid": "输入有误",
    "error:not_found": "找不到该参会人员",
    "error:offline": "未连接，请稍候",
    "error:timeout": "服务器无响应",
  },
  en: {
    title: "Special inquiry",
    no_topic: "No inquiry topic is open",
    topic: "Topic",
    stage_idle: "Waiting",
    stage_report: "Work report",
    stage_question: "Question",
    stage_answer: "Answer",
    stage_follow_up: "Follow-up",
    speaker: "Speaking",
    holder: "Asking",
    respondent: "Department",
    overtime: "Overtime",
    follow_ups_left: "Follow-ups left this turn: {n}",
    raise: "Raise hand",
    lower: "Lower hand",
    queue_pos: "Your place in the queue: {n}",
    you_have_floor: "You have the floor",
    not_allowed: "Deputies do not ask on this topic",
    queue: "Hands raised",
    queue_empty: "No hands raised",
    grant: "Give the floor",
    open_title: "Open an inquiry topic",
    topic_title: "Topic title",
    respondents: "Answering departments",
    no_respondents: "This meeting has no answering department",
    report_min: "Report (minutes)",
    question_min: "Question (minutes)",
    answer_min: "Answer (minutes)",
    follow_ups: "Follow-ups per turn",
    allow_deputies: "Deputies may ask",
    open: "Open topic",
    start_report: "Work report: {name}",
    answer_by: "Answer: {name}",
    follow_up: "Follow-up",
    end_turn: "End turn",
    close_topic: "Close topic",
    floor_on: "Floor control: on (chair and floor only)",
    floor_off: "Floor control: off",
    need_title: "Give a title and choose the answering departments",
    "error:state": "Not allowed at this stage",
    "error:forbidden": "You may not do this",
    "error:invalid": "Invalid input",
    "error:not_found": "No such participant",
    "error:offline": "Not connected yet",
    "error:timeout": "The server did not answer",
  },
};


function clock(seconds) {
  const sign = seconds < 0 ? "-" : "";
  const whole = Math.abs(seconds < 0 ? Math.floor(seconds) : Math.ceil(seconds));
  const m = Math.floor(whole / 60);
  const s = String(whole % 60).padStart(2, "0");
  return `${sign}${m}:${s}`;
}

class InquiryView {
  constructor(ctx) {
    this.ctx = ctx;
    this.state = null;
    this.seq = -1;
    this.offset = 0; // server clock - local clock, seconds
    this.busy = false;
    const role = ctx.me?.role;
    this.isOperator = OPERATORS.has(role);
    this.isAsker = ASKERS.has(role);
    this.body = ctx.panel("inquiry", "title");
    this.root = el("div", { class: "inq" });
    this.board = el("div", { class: "inq-board", "aria-live": "polite" });
    this.mine = el("div", { class: "inq-mine inq-row" });
    this.console = el("div", { class: "inq-console inq" });
    this.form = this.isOperator ? this.buildForm() : null;
    this.root.append(this.board, this.mine, this.console);
    this.body.replaceChildren(this.root);
    this.timer = setInterval(() => this.tick(), 200);
  }

  t(key, vars) {
    return this.ctx.t(key, vars);
  }

  /** Accept a state (broadcast or sync); older ones than we hold are ignored. */
  take(state, { force = false } = {}) {
    if (!state) return;
    if (!force && typeof state.seq === "number" && state.seq < this.seq) return;
    this.state = state;
    if (typeof state.seq === "number") this.seq = state.seq;
    if (typeof state.server_time === "number") this.offset = state.server_time - Date.now() / 1000;
    this.render();
  }

  async send(event, payload) {
    const ack = await this.ctx.call(event, payload);
    if (!ack.ok) {
      const code = ack.error?.code;
      const key = `error:${code}`;
      const text = this.t(key);
      this.ctx.toast(text === key ? ack.error?.message || code : `${text}: ${ack.error?.message || ""}`, { kind: "error" });
    }
    return ack;
  }

  command(action, fields = {}) {
    return this.send("inquiry:command", { action, ...fields });
  }

  name(id) {
    if (!id) return "";
    const p = this.ctx.participant(id);
    if (!p) return id;
    return p.site?.name && p.role === "respondent" ? `${p.name}（${p.site.name}）` : p.name;
  }

  remaining() {
    const timer = this.state?.timer;
    if (!timer) return null;
    const serverNow = Date.now() / 1000 + this.offset;
    return timer.duration_s - (serverNow - timer.started_at);
  }

  tick() {
    const node = this.board.querySelector(".inq-countdown");
    if (!node) return;
    const left = this.remaining();
    if (left === null) {
      node.textContent = "";
      return;
    }
    node.textContent = clock(left);
    node.classList.toggle("is-over", left < 0 || !!this.state.overtime);
    node.classList.toggle("is-low", left >= 0 && left < 30);
  }

  render() {
    this.renderBoard();
    this.renderMine();
    this.renderConsole();
    this.tick();
  }

  renderBoard() {
    const s = this.state;
    if (!s?.topic) {
      this.board.replaceChildren(el("div", { class: "inq-topic inq-muted", text: this.t("no_topic") }));
      return;
    }
    const who = el("div", { class: "inq-who" },
      el("div", {}, el("span", { class: "inq-stage", "data-stage": s.stage, text: this.t(`stage_${s.stage}`) })));
    if (s.speaker) {
      const label = s.stage === "report" ? "speaker" : "holder";
      who.append(el("div", { class: "inq-speaker", "data-participant": s.speaker },
        el("span", { class: "inq-label", text: this.t(label) }), this.name(s.speaker)));
    }
    if (s.respondent && s.stage === "answer") {
      who.append(el("div", { class: "inq-respondent", "data-participant": s.respondent },
        el("span", { class: "inq-label", text: this.t("respondent") }), this.name(s.respondent)));
    }
    if (s.stage !== "idle" && s.stage !== "report") {
      who.append(el("div", { class: "inq-muted", text: this.t("follow_ups_left", { n: s.follow_ups_left }) }));
    }
    const right = el("div", {}, el("div", { class: "inq-countdown", role: "timer" }));
    if (s.overtime) right.append(el("div", { class: "inq-over-badge", text: this.t("overtime") }));
    this.board.replaceChildren(el("div", { class: "inq-topic", text: s.topic.title }), who, right);
  }

  renderMine() {
    const s = this.state;
    this.mine.replaceChildren();
    if (!this.isAsker || !s?.topic) return;
    const me = this.ctx.me.id;
    if (this.ctx.me.role === "deputy" && s.topic.allow_deputies === false) {
      this.mine.append(el("span", { class: "inq-muted", text: this.t("not_allowed") }));
      return;
    }
    if (s.speaker === me && s.stage !== "idle") {
      this.mine.append(el("strong", { class: "inq-you", text: this.t("you_have_floor") }));
      return;
    }
    const place = s.queue.indexOf(me);
    const raised = place >= 0;
    this.mine.append(el("button", {
      type: "button", class: raised ? "button inq-hand" : "button primary inq-hand",
      "data-action": raised ? "lower" : "raise", text: this.t(raised ? "lower" : "raise"),
      on: { click: () => this.send("inquiry:hand", { raise: !raised }) },
    }));
    if (raised) this.mine.append(el("span", { class: "inq-pos-text", text: this.t("queue_pos", { n: place + 1 }) }));
  }

  renderConsole() {
    if (!this.isOperator) {
      this.console.replaceChildren();
      return;
    }
    const s = this.state || {};
    if (!s.topic) {
      // The form stays attached: every roster change re-renders, and taking the
      // form out of the page would blur the field the clerk is typing in.
      this.refreshRespondentChoices();
      if (this.form.parentNode !== this.console) this.console.replaceChildren(this.form);
      for (const node of [...this.console.children]) if (node !== this.form) node.remove();
      this.console.append(this.floorToggle(s));
      return;
    }
    this.console.replaceChildren();
    const respondents = s.topic.respondents;
    const idle = s.stage === "idle";
    const asking = s.stage === "question" || s.stage === "follow_up";

    const reports = el("div", { class: "inq-row" });
    for (const id of respondents) {
      reports.append(el("button", { type: "button", class: "button", "data-action": "start_report", "data-participant": id,
        disabled: !idle, text: this.t("start_report", { name: this.name(id) }),
        on: { click: () => this.command("start_report", { respondent: id }) } }));
    }

    const queue = el("ol", { class: "inq-queue" });
    s.queue.forEach((id, i) => {
      queue.append(el("li", { "data-participant": id },
        el("span", { class: "inq-pos", text: String(i + 1) }),
        el("span", { class: "inq-name", text: `${this.name(id)} · ${this.ctx.roleLabel(this.ctx.participant(id)?.role || "")}` }),
        el("button", { type: "button", class: "button primary", "data-action": "grant", "data-participant": id,
          disabled: !idle, text: this.t("grant"), on: { click: () => this.command("grant", { participant: id }) } })));
    });
    if (!s.queue.length) queue.append(el("li", { class: "inq-muted", text: this.t("queue_empty") }));

    const answers = el("div", { class: "inq-row" });
    for (const id of respondents) {
      answers.append(el("button", { type: "button", class: "button primary", "data-action": "answer", "data-participant": id,
        disabled: !asking, text: this.t("answer_by", { name: this.name(id) }),
        on: { click: () => this.command("answer", { respondent: id }) } }));
    }
    const turn = el("div", { class: "inq-row" },
      el("button", { type: "button", class: "button", "data-action": "follow_up",
        disabled: !(s.stage === "answer" && s.follow_ups_left > 0), text: this.t("follow_up"),
        on: { click: () => this.command("follow_up") } }),
      el("button", { type: "button", class: "button", "data-action": "end_turn", disabled: idle,
        text: this.t("end_turn"), on: { click: () => this.command("end_turn") } }),
      el("button", { type: "button", class: "button danger", "data-action": "close_topic",
        text: this.t("close_topic"), on: { click: () => this.command("close_topic") } }));

    this.console.append(
      reports,
      el("div", { class: "inq-section-title", text: this.t("queue") }), queue,
      answers, turn, this.floorToggle(s));
  }

  floorToggle(s) {
    const on = !!s.floor_control;
    return el("div", { class: "inq-row" }, el("button", {
      type: "button", class: on ? "button primary" : "button", "data-action": "floor_control",
      "aria-pressed": String(on), text: this.t(on ? "floor_on" : "floor_off"),
      on: { click: () => this.command("floor_control", { on: !on }) },
    }));
  }

  buildForm() {
    const number = (name, value, min = 0.5, step = 0.5) =>
      el("input", { type: "number", name, value: String(value), min: String(min), step: String(step), inputmode: "decimal" });
    this.respondentBox = el("div", { class: "inq-respondents inq-row" });
    const form = el("form", { class: "inq-form" },
      el("div", { class: "inq-section-title", "data-t": "open_title", text: this.t("open_title") }),
      el("label", {}, el("span", { "data-t": "topic_title", text: this.t("topic_title") }),
        el("input", { type: "text", name: "title", maxlength: "300", autocomplete: "off" })),
      el("div", {}, el("div", { class: "inq-muted", "data-t": "respondents", text: this.t("respondents") }), this.respondentBox),
      el("div", { class: "inq-durations" },
        el("label", {}, el("span", { "data-t": "report_min", text: this.t("report_min") }), number("report_min", 10)),
        el("label", {}, el("span", { "data-t": "question_min", text: this.t("question_min") }), number("question_min", 3)),
        el("label", {}, el("span", { "data-t": "answer_min", text: this.t("answer_min") }), number("answer_min", 5)),
        el("label", {}, el("span", { "data-t": "follow_ups", text: this.t("follow_ups") }), number("follow_ups", 1, 0, 1))),
      el("label", { class: "inq-inline" }, el("input", { type: "checkbox", name: "allow_deputies", checked: true }),
        el("span", { "data-t": "allow_deputies", text: this.t("allow_deputies") })),
      el("div", { class: "inq-row" }, el("button", { type: "submit", class: "button primary", "data-action": "open_topic",
        "data-t": "open", text: this.t("open") })));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.openTopic(form);
    });
    return form;
  }

  refreshRespondentChoices() {
    const box = this.respondentBox;
    const checked = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
    const known = new Set([...box.querySelectorAll("input")].map((i) => i.value));
    const respondents = (this.ctx.state?.roster || []).filter((p) => p.role === "respondent");
    box.replaceChildren();
    if (!respondents.length) box.append(el("span", { class: "inq-muted", text: this.t("no_respondents") }));
    for (const p of respondents) {
      // Newly listed departments start checked: the usual topic questions all of them.
      const on = checked.has(p.id) || !known.has(p.id);
      box.append(el("label", { class: "inq-inline" },
        el("input", { type: "checkbox", name: "respondent", value: p.id, checked: on }),
        el("span", { text: this.name(p.id) })));
    }
  }

  async openTopic(form) {
    const data = new FormData(form);
    const title = String(data.get("title") || "").trim();
    const respondents = data.getAll("respondent").map(String);
    if (!title || !respondents.length) {
      this.ctx.toast(this.t("need_title"), { kind: "error" });
      return;
    }
    const minutes = (name) => Math.max(1, Math.round(Number(data.get(name)) * 60));
    const ack = await this.command("open_topic", {
      title,
      respondents,
      report_s: minutes("report_min"),
      question_s: minutes("question_min"),
      answer_s: minutes("answer_min"),
      follow_ups: Math.max(0, Math.min(20, Math.round(Number(data.get("follow_ups")) || 0))),
      allow_deputies: data.get("allow_deputies") !== null,
    });
    if (ack.ok) form.querySelector("input[name=title]").value = "";
  }
}

let view = null;

export default {
  id: "inquiry",
  order: 20,
  strings: STRINGS,
  mount(ctx) {
    if (!document.getElementById("inquiry-style")) {
      document.head.append(el("style", { id: "inquiry-style", text: STYLE }));
    }
    view = new InquiryView(ctx);
    view.take(ctx.state?.inquiry, { force: true });
    if (!ctx.state?.inquiry) view.render();
    ctx.on("inquiry:state", (state) => view.take(state));
    // Names and the respondents of the open-topic form follow the roster.
    ctx.on("roster", () => view.render());
  },
  sync(ctx, state) {
    view?.take(state.inquiry, { force: true });
  },
  onLanguage() {
    view?.render();
  },
};
