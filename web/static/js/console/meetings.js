/*
 * 会议 Meetings: the list (GET /api/meetings), 新建会议 (POST /api/meetings,
 * then PATCH for its kind and end time), and a meeting's page
 * (#meetings/<id>): its participants with their roles and invitations
 * (GET /api/meetings/{mid}, …/invitations), 从名录添加 (people, whole groups
 * such as a committee, or a district's stations, in one
 * POST …/participants/bulk), open / start / close with a confirmation
 * (POST …/status), each invitation's link with a copy button, its QR code
 * and 重新发放 (…/reissue: the old link stops working), and 打印邀请名单
 * (GET …/invitations.html in a new window). 大屏幕: the hall's projector
 * view (/screen) is the join link of an observer named 大屏幕 with /screen in
 * place of /join; the card makes that observer once and shows its link.
 */
import { el } from "../dom.js";
import { listOf } from "./people.js";
import { copyButton, descendants, field, formatTime, isoFromLocal, linkField, qrImage, select, svgImage } from "./widgets.js";

export const MEETING_KINDS = ["committee", "inquiry", "adhoc"];
export const ROLES = ["chair", "clerk", "member", "deputy", "respondent", "observer"];
const STATUS_ACTIONS = [
  ["open", "status_open_action", "confirm_open"],
  ["started", "status_start_action", "confirm_start"],
  ["closed", "status_close_action", "confirm_close"],
];
const STATUS_ORDER = ["scheduled", "open", "started", "closed"];
// The observer whose link, with /screen, is the hall's big screen (the name
// is the same in every language: it is how the card finds it again).
const SCREEN_ROLE = "observer";
const SCREEN_NAME = "大屏幕";
const PICK_LIMIT = 200;

function toLocalInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

export class Meetings {
  constructor(ctx, root) {
    this.ctx = ctx;
    this.root = root;
    this.meetings = [];
    this.meeting = null;
    this.invitations = new Map();
    this.picked = new Map(); // person id → name, chosen in 从名录添加
  }

  reset() {
    this.meetings = [];
    this.meeting = null;
    this.root.replaceChildren();
  }

  label(prefix, value) {
    if (!value) return "";
    const key = `${prefix}:${value}`;
    const text = this.ctx.t(key);
    return text === key ? value : text;
  }

  async show(args = []) {
    if (args[0]) await this.openMeeting(args[0]);
    else await this.showList();
  }

  render() {
    if (this.meeting) this.renderMeeting();
    else this.renderList();
  }

  // ── the list ──────────────────────────────────────────────────────────

  async showList() {
    this.meeting = null;
    try {
      this.meetings = listOf(await this.ctx.api.get("/api/meetings"), "meetings");
    } catch (error) {
      this.meetings = [];
      this.ctx.fail(error);
    }
    this.renderList();
  }

  renderList() {
    const { t } = this.ctx;
    const lang = this.ctx.lang();
    const rows = this.meetings.length
      ? this.meetings.map((m) => el("li", { class: "meeting-item", "data-meeting-id": m.id },
        el("a", { class: "meeting-link", href: `#meetings/${encodeURIComponent(m.id)}` },
          el("span", { class: "meeting-name", text: m.title }),
          el("span", { class: "muted", text: [this.label("meeting_kind", m.kind), formatTime(m.starts_at, lang)].filter(Boolean).join(" · ") }),
          el("span", { class: `status-chip status-${m.status}`, text: this.label("status", m.status) }))))
      : [el("li", { class: "muted empty", text: t("no_meetings") })];
    this.root.replaceChildren(
      el("section", { class: "card" }, this.newMeetingForm()),
      el("section", { class: "card" },
        el("h2", { "data-t": "meetings_title", text: t("meetings_title") }),
        el("ul", { class: "meeting-list" }, ...rows)));
  }

  newMeetingForm() {
    const { t } = this.ctx;
    const form = el("form", { class: "stack", "data-form": "new-meeting" },
      el("h2", { "data-t": "new_meeting", text: t("new_meeting") }),
      field(t, "meeting_title", el("input", { name: "title", required: true, maxlength: "300", autocomplete: "off" })),
      field(t, "meeting_kind", select("kind", MEETING_KINDS.map((k) => [k, this.label("meeting_kind", k)]), { value: "committee" })),
      el("div", { class: "row" },
        field(t, "starts_at", el("input", { name: "starts_at", type: "datetime-local" })),
        field(t, "ends_at", el("input", { name: "ends_at", type: "datetime-local" }))),
      el("button", { type: "submit", class: "button primary", "data-action": "create-meeting", "data-t": "create_meeting", text: t("create_meeting") }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create(form);
    });
    return form;
  }

  async create(form) {
    const { t } = this.ctx;
    const title = form.elements.title.value.trim();
    const startsAt = isoFromLocal(form.elements.starts_at.value);
    const endsAt = isoFromLocal(form.elements.ends_at.value);
    if (startsAt && endsAt && endsAt <= startsAt) {
      this.ctx.toast(t("ends_before_start"), { kind: "error" });
      return;
    }
    const body = { title, kind: form.elements.kind.value };
    if (startsAt) body.starts_at = startsAt;
    if (endsAt) body.ends_at = endsAt;
    let meeting;
    try {
      meeting = await this.ctx.api.post("/api/meetings", body);
    } catch (error) {
      if (error.status !== 400) return this.ctx.fail(error);
      // A hub whose POST takes only {title, starts_at}: the rest by PATCH below.
      try {
        meeting = await this.ctx.api.post("/api/meetings", startsAt ? { title, starts_at: startsAt } : { title });
      } catch (again) {
        return this.ctx.fail(again);
      }
    }
    if (meeting.kind !== body.kind || (endsAt && !meeting.ends_at)) {
      try {
        await this.ctx.api.patch(`/api/meetings/${encodeURIComponent(meeting.id)}`, { kind: body.kind, ...(endsAt ? { ends_at: endsAt } : {}) });
      } catch (error) {
        this.ctx.fail(error);
      }
    }
    this.ctx.toast(t("meeting_created", { title }));
    this.ctx.go(`meetings/${encodeURIComponent(meeting.id)}`);
  }

  // ── a meeting's page ──────────────────────────────────────────────────

  async openMeeting(mid) {
    const api = this.ctx.api;
    const path = `/api/meetings/${encodeURIComponent(mid)}`;
    try {
      const [meeting, invitations, sites, groups] = await Promise.all([
        api.get(path),
        api.get(`${path}/invitations`).catch((error) => (error.status === 404 || error.status === 405 ? [] : Promise.reject(error))),
        this.ctx.sites().catch(() => []),
        api.get("/api/groups").catch(() => []),
      ]);
      this.meeting = meeting;
      this.invitations = new Map(listOf(invitations, "invitations").map((i) => [i.participant_id || i.id, i]));
      this.sites = sites;
      this.groups = listOf(groups, "groups");
    } catch (error) {
      this.ctx.fail(error);
      this.meeting = null;
      this.root.replaceChildren(el("p", {}, el("a", { href: "#meetings", text: this.ctx.t("back_to_meetings") })));
      return;
    }
    this.renderMeeting();
  }

  async refresh() {
    if (this.meeting) await this.openMeeting(this.meeting.id);
  }

  renderMeeting() {
    const { t } = this.ctx;
    const m = this.meeting;
    const when = [formatTime(m.starts_at, this.ctx.lang()), m.ends_at ? formatTime(m.ends_at, this.ctx.lang()) : ""].filter(Boolean).join(" – ");
    const statusButtons = STATUS_ACTIONS.map(([status, label, confirmKey]) => el("button", {
      type: "button", class: status === "closed" ? "button danger" : "button primary", "data-action": `status-${status}`,
      // Only forward: scheduled → open → started → closed (the hub refuses a step back with 409).
      disabled: STATUS_ORDER.indexOf(status) <= STATUS_ORDER.indexOf(m.status),
      text: t(label), onclick: () => this.setStatus(status, confirmKey, label),
    }));
    this.root.replaceChildren(
      el("p", {}, el("a", { class: "back", href: "#meetings", "data-t": "back_to_meetings", text: t("back_to_meetings") })),
      el("section", { class: "card meeting-head", "data-meeting-id": m.id },
        el("h2", { class: "meeting-page-title", text: m.title }),
        el("p", { class: "muted", text: [this.label("meeting_kind", m.kind), when].filter(Boolean).join(" · ") }),
        el("p", {}, el("span", { class: `status-chip status-${m.status}`, "data-status": m.status, text: this.label("status", m.status) })),
        el("div", { class: "row" }, ...statusButtons),
        m.status === "closed" ? null : this.editForm()),
      this.participantsCard(),
      m.status === "closed" ? null : this.screenCard(),
      this.addFromDirectoryCard(),
      this.addOneCard());
  }

  /** 大屏幕: the display link for the hall's projector, made on first use. */
  screenCard() {
    const { t } = this.ctx;
    const display = (this.meeting.participants || []).find((p) => p.role === SCREEN_ROLE && p.name === SCREEN_NAME);
    const joinUrl = display ? this.invitations.get(display.id)?.join_url : "";
    const card = el("section", { class: "card", "data-card": "big-screen" },
      el("h3", { "data-t": "screen_title", text: t("screen_title") }),
      el("p", { class: "hint", "data-t": "screen_hint", text: t("screen_hint") }));
    if (!joinUrl) {
      card.append(el("button", {
        type: "button", class: "button primary", "data-action": "make-screen-link", text: t("screen_make"),
        onclick: () => this.makeScreenLink(),
      }));
      return card;
    }
    const screenUrl = screenLink(joinUrl);
    const qrSlot = el("div", { class: "qr-slot" });
    card.append(
      linkField(screenUrl, { name: "screen-link" }),
      el("div", { class: "row" },
        copyButton(t, () => screenUrl),
        el("a", { class: "button", href: screenUrl, target: "_blank", rel: "noopener", "data-action": "open-screen", text: t("screen_open") }),
        el("button", {
          type: "button", class: "button small", "data-action": "screen-qr", text: t("show_qr"),
          onclick: async () => {
            if (qrSlot.firstChild) return qrSlot.replaceChildren();
            try {
              qrSlot.replaceChildren(await qrImage(this.ctx.api, screenUrl, t("screen_title")));
            } catch (error) {
              qrSlot.replaceChildren(el("p", { class: "form-error", text: t("qr_failed", { reason: this.ctx.plain(error) }) }));
            }
          },
        })),
      qrSlot);
    return card;
  }

  async makeScreenLink() {
    try {
      await this.ctx.api.post(`/api/meetings/${encodeURIComponent(this.meeting.id)}/participants`, { name: SCREEN_NAME, role: SCREEN_ROLE });
      await this.refresh();
    } catch (error) {
      this.ctx.fail(error);
    }
  }

  /** 修改会议信息: title, kind and times (PATCH); a closed meeting is not changed. */
  editForm() {
    const { t } = this.ctx;
    const m = this.meeting;
    const form = el("form", { class: "stack", "data-form": "edit-meeting" },
      field(t, "meeting_title", el("input", { name: "title", required: true, maxlength: "300", autocomplete: "off", value: m.title })),
      field(t, "meeting_kind", select("kind", MEETING_KINDS.map((k) => [k, this.label("meeting_kind", k)]), { value: m.kind || "committee" })),
      el("div", { class: "row" },
        field(t, "starts_at", el("input", { name: "starts_at", type: "datetime-local", value: toLocalInput(m.starts_at) })),
        field(t, "ends_at", el("input", { name: "ends_at", type: "datetime-local", value: toLocalInput(m.ends_at) }))),
      el("p", { class: "hint", text: t("reschedule_hint") }),
      el("button", { type: "submit", class: "button primary", "data-action": "save-meeting", text: t("save_meeting") }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const startsAt = isoFromLocal(form.elements.starts_at.value);
      const endsAt = isoFromLocal(form.elements.ends_at.value);
      if (startsAt && endsAt && endsAt <= startsAt) {
        this.ctx.toast(t("ends_before_start"), { kind: "error" });
        return;
      }
      try {
        await this.ctx.api.patch(`/api/meetings/${encodeURIComponent(m.id)}`, {
          title: form.elements.title.value.trim(), kind: form.elements.kind.value, starts_at: startsAt, ends_at: endsAt,
        });
        this.ctx.toast(t("meeting_saved"));
        await this.refresh();
      } catch (error) {
        this.ctx.fail(error);
      }
    });
    return el("details", { class: "edit-meeting" }, el("summary", { text: t("edit_meeting") }), form);
  }

  async setStatus(status, confirmKey, label) {
    const { t } = this.ctx;
    if (!(await this.ctx.confirm(t(confirmKey, { title: this.meeting.title }), t(label), { danger: status === "closed" }))) return;
    try {
      await this.ctx.api.post(`/api/meetings/${encodeURIComponent(this.meeting.id)}/status`, { status });
      this.ctx.toast(t("status_changed", { status: this.label("status", status) }));
      await this.refresh();
    } catch (error) {
      this.ctx.fail(error);
    }
  }

  participantsCard() {
    const { t } = this.ctx;
    const participants = this.meeting.participants || [];
    const printButton = el("button", { type: "button", class: "button", "data-action": "print-invitations", "data-t": "print_invitations", text: t("print_invitations"), onclick: () => this.printInvitations() });
    if (!participants.length) {
      return el("section", { class: "card" },
        el("h3", { text: t("participants_n", { n: 0 }) }),
        el("p", { class: "muted", text: t("no_participants") }));
    }
    const table = el("table", { class: "data-table invitations" },
      el("thead", {}, el("tr", {}, ...["participant_name", "participant_role", "participant_site", "invitation"].map((k) => el("th", { text: t(k) })))));
    const body = el("tbody");
    for (const p of participants) body.append(this.participantRow(p));
    table.append(body);
    return el("section", { class: "card" },
      el("div", { class: "row spread" }, el("h3", { text: t("participants_n", { n: participants.length }) }), printButton),
      el("div", { class: "table-scroll" }, table));
  }

  participantRow(p) {
    const { t } = this.ctx;
    const invitation = this.invitations.get(p.id);
    const url = invitation?.join_url || "";
    const cell = el("td", { class: "invitation-cell" });
    const qrSlot = el("div", { class: "qr-slot" });
    const renderCell = (link) => {
      cell.replaceChildren(
        link ? linkField(link, { name: "join-link" }) : el("span", { class: "muted", text: t("no_link") }),
        this.invitations.get(p.id)?.expires_at
          ? el("span", { class: "muted expires", text: t("link_expires", { at: formatTime(this.invitations.get(p.id).expires_at, this.ctx.lang()) }) })
          : null,
        el("div", { class: "row" },
          link ? copyButton(t, () => cell.querySelector(".link-field").value) : null,
          el("button", { type: "button", class: "button small", "data-action": "show-qr", text: t("show_qr"), onclick: () => this.showQr(p, qrSlot) }),
          el("button", { type: "button", class: "button small", "data-action": "reissue", text: t("reissue"), onclick: () => this.reissue(p, renderCell, qrSlot) })),
        qrSlot);
    };
    renderCell(url);
    return el("tr", { "data-participant-id": p.id },
      el("td", { class: "participant-name", text: p.name }),
      el("td", { text: t(`role:${p.role}`) }),
      el("td", { text: p.site?.name || "" }),
      cell);
  }

  async showQr(p, slot) {
    const { t } = this.ctx;
    if (slot.firstChild) {
      slot.replaceChildren();
      return;
    }
    const path = `/api/meetings/${encodeURIComponent(this.meeting.id)}/participants/${encodeURIComponent(p.id)}/qr.svg`;
    try {
      slot.replaceChildren(await svgImage(this.ctx.api.request("GET", path, { as: "blob" }), t("qr_of", { name: p.name })));
    } catch (error) {
      slot.replaceChildren(el("p", { class: "form-error", text: t("qr_failed", { reason: this.ctx.plain(error) }) }));
    }
  }

  async reissue(p, renderCell, qrSlot) {
    const { t } = this.ctx;
    if (!(await this.ctx.confirm(t("confirm_reissue", { name: p.name }), t("reissue")))) return;
    try {
      const answer = await this.ctx.api.post(
        `/api/meetings/${encodeURIComponent(this.meeting.id)}/participants/${encodeURIComponent(p.id)}/reissue`, {});
      this.invitations.set(p.id, { ...(this.invitations.get(p.id) || {}), ...answer });
      renderCell(answer.join_url || "");
      qrSlot.replaceChildren();
      this.ctx.toast(t("reissued", { name: p.name }));
    } catch (error) {
      this.ctx.fail(error);
    }
  }

  /** The printable list in a new window: fetched with the session's token, written into the window. */
  async printInvitations() {
    const { t } = this.ctx;
    const win = window.open("", "_blank"); // inside the click, so no popup blocker
    try {
      // Times on the sheet in this office's time zone, not the server's.
      const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
      const query = tz ? `?${new URLSearchParams({ tz })}` : "";
      const html = await this.ctx.api.get(`/api/meetings/${encodeURIComponent(this.meeting.id)}/invitations.html${query}`, { as: "text" });
      if (!win) {
        this.ctx.toast(t("popup_blocked"), { kind: "error" });
        return;
      }
      win.document.open();
      win.document.write(html);
      win.document.close();
    } catch (error) {
      win?.close();
      this.ctx.fail(error);
    }
  }

  // ── 从名录添加 ─────────────────────────────────────────────────────────

  addFromDirectoryCard() {
    const { t } = this.ctx;
    this.picked = new Map();
    // Blank: each person's default role from their kind (a deputy joins as 代表, a department head as 答询部门).
    const role = select("role", ROLES.map((r) => [r, t(`role:${r}`)]), { blank: t("role_auto"), value: "" });
    const summary = el("p", { class: "pick-summary", "aria-live": "polite" });
    const submit = el("button", { type: "submit", class: "button primary", "data-action": "add-picked", text: t("add_picked") });

    // People: a search, results with a tick box each; picks kept across searches.
    const q = el("input", { type: "search", class: "search", name: "pick-q", autocomplete: "off", placeholder: t("search_people") });
    const results = el("ul", { class: "pick-list", "data-pick": "people" });
    const pickedList = el("ul", { class: "picked" });
    let timer = null;
    const search = async () => {
      const params = new URLSearchParams({ q: q.value.trim() });
      try {
        const people = listOf(await this.ctx.api.get(`/api/people?${params}`), "people").slice(0, PICK_LIMIT);
        results.replaceChildren(...(people.length ? people.map((p) => this.pickRow(p, update)) : [el("li", { class: "muted", text: t("no_people") })]));
      } catch (error) {
        results.replaceChildren(el("li", { class: "form-error", text: this.ctx.plain(error) }));
      }
    };
    q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 250); });

    // Groups (a committee, a delegation): one tick each.
    const groups = el("ul", { class: "pick-list", "data-pick": "groups" },
      ...(this.groups.length ? this.groups.map((g) => el("li", {}, el("label", { class: "pick" },
        el("input", { type: "checkbox", name: "group_ids", value: g.id, onchange: () => update() }),
        el("span", { text: g.name }),
        el("span", { class: "muted", text: this.label("group_kind", g.kind) }))))
        : [el("li", { class: "muted", text: t("no_groups") })]));

    // A district's (or any parent's) stations: pick the parent, all its stations are ticked.
    const parents = this.sites.filter((s) => s.kind !== "station");
    const parent = select("parent", parents.map((s) => [s.id, s.name]), { blank: t("choose_district") });
    const stations = el("ul", { class: "pick-list", "data-pick": "stations" });
    const allStations = el("button", { type: "button", class: "button small", "data-action": "select-all-stations", text: t("select_all"), onclick: () => {
      const boxes = [...stations.querySelectorAll("input")];
      const on = !boxes.every((b) => b.checked);
      for (const box of boxes) box.checked = on;
      update();
    } });
    parent.addEventListener("change", () => {
      const under = parent.value ? descendants(this.sites, parent.value).filter((s) => s.kind === "station") : [];
      stations.replaceChildren(...(under.length
        ? under.sort((a, b) => a.name.localeCompare(b.name, "zh-CN")).map((s) => el("li", {}, el("label", { class: "pick" },
          el("input", { type: "checkbox", name: "site_ids", value: s.id, checked: true, onchange: () => update() }),
          el("span", { text: s.name }))))
        : parent.value ? [el("li", { class: "muted", text: t("no_stations") })] : []));
      update();
    });

    const form = el("form", { class: "stack", "data-form": "add-from-directory" },
      el("h3", { "data-t": "add_from_directory", text: t("add_from_directory") }),
      el("p", { class: "hint", text: t("add_from_directory_hint") }),
      field(t, "participant_role", role),
      el("fieldset", {}, el("legend", { text: t("pick_people") }), q, results, pickedList),
      el("fieldset", {}, el("legend", { text: t("pick_groups") }), groups),
      el("fieldset", {}, el("legend", { text: t("pick_stations") }), el("p", { class: "hint", text: t("pick_stations_hint") }),
        el("div", { class: "row" }, parent, allStations), stations),
      summary, submit);

    const picks = () => ({
      people: [...this.picked.keys()],
      group_ids: [...form.querySelectorAll('input[name="group_ids"]:checked')].map((b) => b.value),
      site_ids: [...form.querySelectorAll('input[name="site_ids"]:checked')].map((b) => b.value),
    });
    function update() {
      const p = picks();
      summary.textContent = t("pick_summary", { people: p.people.length, groups: p.group_ids.length, sites: p.site_ids.length });
      submit.disabled = !(p.people.length || p.group_ids.length || p.site_ids.length);
    }
    this.renderPicked = () => {
      pickedList.replaceChildren(...[...this.picked].map(([id, name]) => el("li", {},
        el("span", { text: name }),
        el("button", { type: "button", class: "button small", "aria-label": t("unpick", { name }), text: "×", onclick: () => {
          this.picked.delete(id);
          const box = results.querySelector(`input[value="${CSS.escape(id)}"]`);
          if (box) box.checked = false;
          this.renderPicked();
          update();
        } }))));
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { ...picks() };
      if (role.value) body.role = role.value;
      for (const key of ["people", "group_ids", "site_ids"]) if (!body[key].length) delete body[key];
      submit.disabled = true;
      try {
        const answer = await this.ctx.api.post(`/api/meetings/${encodeURIComponent(this.meeting.id)}/participants/bulk`, body);
        const added = countOf(answer, "added", "participants", "created");
        const skipped = countOf(answer, "skipped", "already", "existing");
        const outside = countOf(answer, "outside_reach");
        this.ctx.toast(t("added_n", { n: added ?? "?" }) + (skipped ? t("skipped_n", { n: skipped }) : "")
          + (outside ? t("outside_n", { n: outside }) : ""), { kind: outside ? "error" : "info" });
        await this.refresh();
      } catch (error) {
        this.ctx.fail(error);
        update();
      }
    });
    update();
    search();
    return el("section", { class: "card" }, form);
  }

  pickRow(person, update) {
    const { t } = this.ctx;
    const box = el("input", { type: "checkbox", name: "people", value: person.id, checked: this.picked.has(person.id) });
    box.addEventListener("change", () => {
      if (box.checked) this.picked.set(person.id, person.name);
      else this.picked.delete(person.id);
      this.renderPicked();
      update();
    });
    const where = person.site?.name || this.sites.find((s) => s.id === person.site_id)?.name || "";
    return el("li", { "data-person-id": person.id }, el("label", { class: "pick" }, box,
      el("span", { text: person.name }),
      el("span", { class: "muted", text: [this.label("person_kind", person.kind), where].filter(Boolean).join(" · ") || t("no_site") })));
  }

  // ── one participant by name (someone not in the directory) ──────────────

  addOneCard() {
    const { t } = this.ctx;
    const form = el("form", { class: "row", "data-form": "add-one" },
      field(t, "participant_name", el("input", { name: "name", required: true, maxlength: "200", autocomplete: "off" })),
      field(t, "participant_role", select("role", ROLES.map((r) => [r, t(`role:${r}`)]), { value: "observer" })),
      el("button", { type: "submit", class: "button", "data-action": "add-one", text: t("add_one") }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await this.ctx.api.post(`/api/meetings/${encodeURIComponent(this.meeting.id)}/participants`,
          { name: form.elements.name.value.trim(), role: form.elements.role.value });
        this.ctx.toast(t("added_n", { n: 1 }));
        await this.refresh();
      } catch (error) {
        this.ctx.fail(error);
      }
    });
    return el("details", { class: "card" }, el("summary", { text: t("add_one_title") }), el("p", { class: "hint", text: t("add_one_hint") }), form);
  }
}

/** A join link's /screen twin: the same token, the projector's page. */
function screenLink(joinUrl) {
  const url = new URL(joinUrl, window.location.href);
  url.pathname = url.pathname.replace(/\/join$/, "/screen");
  return url.toString();
}

function countOf(answer, ...keys) {
  for (const key of keys) {
    const value = answer?.[key];
    if (typeof value === "number") return value;
    if (Array.isArray(value)) return value.length;
  }
  return Array.isArray(answer) ? answer.length : null;
}
