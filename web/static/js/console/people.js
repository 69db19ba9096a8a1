/*
 * 人员 People: the directory the office invites from (deputies, committee
 * members, department heads, staff). Search and filter by site, group and
 * kind (GET /api/people), add one (POST /api/people), import a CSV/XLSX
 * (POST /api/people/import: all or nothing, the refused rows by line and the
 * duplicates listed), groups such as a committee (GET/POST /api/groups), and
 * a person's page with the meetings they were in (GET /api/people/{pid}),
 * where they can be removed (DELETE, after a confirmation).
 */
import { el } from "../dom.js";
import { field, formatTime, importBox, labelOptions, select, siteOptions } from "./widgets.js";

export const PERSON_KINDS = ["deputy", "member", "department_head", "staff", "other"];
export const GROUP_KINDS = ["committee", "delegation", "other"];
export const LEVELS = ["national", "provincial", "city", "district", "township"];
const SEARCH_DELAY_MS = 250;

/** A list the hub answered, bare or wrapped ({people: […]}, {items: […]}). */
export function listOf(answer, key) {
  if (Array.isArray(answer)) return answer;
  for (const name of [key, "items", "results"]) if (Array.isArray(answer?.[name])) return answer[name];
  return [];
}

export class People {
  constructor(ctx, root) {
    this.ctx = ctx;
    this.root = root;
    this.built = false;
    this.people = [];
    this.groups = [];
    this.sites = [];
    this.total = null;
    this.timer = null;
  }

  reset() {
    this.built = false;
    this.people = [];
    this.root.replaceChildren();
  }

  label(prefix, value) {
    if (!value) return "";
    const key = `${prefix}:${value}`;
    const text = this.ctx.t(key);
    return text === key ? value : text;
  }

  build() {
    const { t } = this.ctx;
    this.q = el("input", { type: "search", class: "search", name: "q", autocomplete: "off", "data-t-placeholder": "search_people", placeholder: t("search_people") });
    this.siteFilter = select("site_id", [], { blank: t("all_sites") });
    this.groupFilter = select("group_id", [], { blank: t("all_groups") });
    this.kindFilter = labelOptions(select("kind", PERSON_KINDS.map((k) => [k, this.label("person_kind", k)]), { blank: t("all_kinds") }), "person_kind", "all_kinds");
    this.q.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.search(), SEARCH_DELAY_MS);
    });
    for (const filter of [this.siteFilter, this.groupFilter, this.kindFilter]) filter.addEventListener("change", () => this.search());
    this.count = el("span", { class: "muted" });
    this.list = el("div", { class: "people-list" });
    this.detail = el("section", { class: "card person-page", hidden: true });
    this.addForm = this.buildAddForm();
    this.groupForm = this.buildGroupForm();
    this.groupList = el("ul", { class: "group-list" });
    this.root.replaceChildren(
      el("section", { class: "card" },
        el("h2", {}, el("span", { "data-t": "people_title", text: t("people_title") }), " ", this.count),
        el("div", { class: "filters" },
          this.q,
          field(t, "filter_site", this.siteFilter),
          field(t, "filter_group", this.groupFilter),
          field(t, "filter_kind", this.kindFilter)),
        this.list),
      this.detail,
      el("section", { class: "card" }, this.addForm),
      el("section", { class: "card" }, importBox(this.ctx, {
        path: "/api/people/import", title: "import_people", hint: "import_people_hint",
        onImported: () => this.reload(),
      })),
      el("section", { class: "card" },
        el("h3", { "data-t": "groups_title", text: t("groups_title") }),
        this.groupList, this.groupForm),
    );
    this.built = true;
  }

  buildAddForm() {
    const { t } = this.ctx;
    this.addSite = select("site_id", [], { blank: t("no_site") });
    const form = el("form", { class: "stack", "data-form": "add-person" },
      el("h3", { "data-t": "add_person", text: t("add_person") }),
      field(t, "person_name", el("input", { name: "name", required: true, maxlength: "200", autocomplete: "off" })),
      field(t, "person_kind", labelOptions(select("kind", PERSON_KINDS.map((k) => [k, this.label("person_kind", k)]), { value: "deputy" }), "person_kind")),
      field(t, "person_level", labelOptions(select("level", LEVELS.map((l) => [l, this.label("level", l)]), { blank: t("no_level") }), "level", "no_level")),
      field(t, "person_site", this.addSite),
      field(t, "person_phone", el("input", { name: "phone", type: "tel", maxlength: "32", autocomplete: "off" })),
      field(t, "person_code", el("input", { name: "code", maxlength: "64", autocomplete: "off" })),
      this.addGroups = el("fieldset", { class: "group-picks" }),
      el("button", { type: "submit", class: "button primary", "data-action": "add-person", "data-t": "add_person", text: t("add_person") }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.add(form);
    });
    return form;
  }

  buildGroupForm() {
    const { t } = this.ctx;
    const form = el("form", { class: "row", "data-form": "add-group" },
      field(t, "group_name", el("input", { name: "name", required: true, maxlength: "200", autocomplete: "off" })),
      field(t, "group_kind", labelOptions(select("kind", GROUP_KINDS.map((k) => [k, this.label("group_kind", k)]), { value: "committee" }), "group_kind")),
      el("button", { type: "submit", class: "button", "data-action": "add-group", "data-t": "add_group", text: t("add_group") }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await this.ctx.api.post("/api/groups", { name: form.elements.name.value.trim(), kind: form.elements.kind.value });
        form.elements.name.value = "";
        this.ctx.toast(t("group_added"));
        await this.loadGroups();
        this.render();
      } catch (error) {
        this.ctx.fail(error);
      }
    });
    return form;
  }

  async show(args = []) {
    if (!this.built) this.build();
    await this.reload();
    if (args[0]) this.open(args[0]);
  }

  async reload() {
    try {
      [this.sites] = await Promise.all([this.ctx.sites(), this.loadGroups()]);
    } catch (error) {
      this.ctx.fail(error);
    }
    this.render();
    await this.search();
  }

  async loadGroups() {
    try {
      this.groups = listOf(await this.ctx.api.get("/api/groups"), "groups");
    } catch (error) {
      this.groups = [];
      if (error.status !== 404) throw error;
    }
  }

  async search() {
    const params = new URLSearchParams();
    if (this.q.value.trim()) params.set("q", this.q.value.trim());
    if (this.siteFilter.value) params.set("site_id", this.siteFilter.value);
    if (this.groupFilter.value) params.set("group_id", this.groupFilter.value);
    if (this.kindFilter.value) params.set("kind", this.kindFilter.value);
    const query = params.toString();
    try {
      const answer = await this.ctx.api.get(`/api/people${query ? `?${query}` : ""}`);
      this.people = listOf(answer, "people");
      this.total = typeof answer?.total === "number" ? answer.total : null;
    } catch (error) {
      this.people = [];
      this.ctx.fail(error);
    }
    this.renderList();
  }

  siteName(id) {
    return this.sites.find((s) => s.id === id)?.name || "";
  }

  render() {
    if (!this.built) return;
    const { t } = this.ctx;
    for (const [node, blank] of [[this.siteFilter, "all_sites"], [this.addSite, "no_site"]]) {
      const value = node.value;
      node.replaceChildren(el("option", { value: "", text: t(blank) }),
        ...siteOptions(this.sites).map(([id, label]) => el("option", { value: id, text: label })));
      node.value = value;
    }
    const group = this.groupFilter.value;
    this.groupFilter.replaceChildren(el("option", { value: "", text: t("all_groups") }),
      ...this.groups.map((g) => el("option", { value: g.id, text: g.name })));
    this.groupFilter.value = group;
    const ticked = new Set([...this.addGroups.querySelectorAll("input:checked")].map((b) => b.value));
    this.addGroups.replaceChildren(el("legend", { text: t("person_groups") }), ...this.groupBoxes(ticked));
    this.groupList.replaceChildren(...(this.groups.length
      ? this.groups.map((g) => el("li", { "data-group-id": g.id },
        el("span", { class: "group-name", text: g.name }), " ",
        el("span", { class: "muted", text: [this.label("group_kind", g.kind), count(t, g)].filter(Boolean).join(" · ") })))
      : [el("li", { class: "muted", text: t("no_groups") })]));
    this.renderList();
  }

  renderList() {
    const { t } = this.ctx;
    const total = this.total ?? this.people.length;
    this.count.textContent = t("n_people", { n: total });
    if (!this.people.length) {
      this.list.replaceChildren(el("p", { class: "muted empty", text: t("no_people") }));
      return;
    }
    const table = el("table", { class: "data-table" },
      el("thead", {}, el("tr", {}, ...["person_name", "person_kind", "person_level", "person_site", "person_phone", "person_code"]
        .map((k) => el("th", { class: `col-${k}`, text: t(k) })))));
    const body = el("tbody");
    for (const person of this.people) {
      const name = el("button", { type: "button", class: "link-button", "data-action": "open-person", text: person.name, onclick: () => this.open(person.id) });
      body.append(el("tr", { "data-person-id": person.id },
        el("td", {}, name),
        el("td", { class: "col-person_kind", text: this.label("person_kind", person.kind) }),
        el("td", { class: "col-person_level", text: this.label("level", person.level) }),
        el("td", { class: "col-person_site", text: person.site?.name || this.siteName(person.site_id) }),
        el("td", { class: "col-person_phone", text: person.phone || "" }),
        el("td", { class: "col-person_code", text: person.code || "" })));
    }
    table.append(body);
    const more = this.total !== null && this.total > this.people.length
      ? el("p", { class: "muted", text: t("showing_first", { n: this.people.length }) }) : null;
    this.list.replaceChildren(...[el("div", { class: "table-scroll" }, table), more].filter(Boolean));
  }

  async add(form) {
    const { t } = this.ctx;
    const body = { name: form.elements.name.value.trim(), kind: form.elements.kind.value };
    body.group_ids = [...this.addGroups.querySelectorAll("input:checked")].map((b) => b.value);
    for (const key of ["level", "site_id", "phone", "code"]) {
      const value = form.elements[key].value.trim();
      if (value) body[key] = value;
    }
    try {
      const person = await this.ctx.api.post("/api/people", body);
      this.ctx.toast(t("person_added", { name: person.name || body.name }));
      for (const key of ["name", "phone", "code"]) form.elements[key].value = "";
      await this.loadGroups(); // the member counts changed
      this.render();
      await this.search();
    } catch (error) {
      this.ctx.fail(error);
    }
  }

  /** A person's page: who they are and the meetings they were in. */
  async open(pid) {
    const { t } = this.ctx;
    let person;
    try {
      person = await this.ctx.api.get(`/api/people/${encodeURIComponent(pid)}`);
    } catch (error) {
      this.ctx.fail(error);
      return;
    }
    const meetings = listOf(person.meetings ?? person.history, "meetings");
    const history = meetings.length
      ? el("ul", { class: "history" }, ...meetings.map((m) => el("li", {},
        el("a", { href: `#meetings/${encodeURIComponent(m.meeting_id || m.id)}`, text: m.title || m.meeting_title || "" }), " ",
        el("span", { class: "muted", text: [formatTime(m.starts_at, this.ctx.lang()), m.role ? t(`role:${m.role}`) : "", this.label("status", m.status), m.online ? t("online_now") : ""].filter(Boolean).join(" · ") }),
        // Whether they ever came online in it (the hub folds the meeting's roster log).
        typeof m.attended === "boolean"
          ? el("span", { class: m.attended ? "attended" : "absent muted", text: " · " + t(m.attended ? "attended" : "absent") })
          : null)))
      : el("p", { class: "muted", text: t("no_history") });
    const mine = new Set(listOf(person.groups, "groups").map((g) => g.id || g));
    const groupBoxes = el("div", { class: "pick-list" }, ...this.groupBoxes(mine));
    const saveGroups = el("button", { type: "button", class: "button", "data-action": "save-groups", text: t("save_groups"), onclick: () => this.saveGroups(person, groupBoxes) });
    this.detail.replaceChildren(
      el("div", { class: "row spread" },
        el("h3", { class: "person-title", text: person.name }),
        el("button", { type: "button", class: "button", text: t("close"), onclick: () => { this.detail.hidden = true; } })),
      el("dl", { class: "facts" },
        ...fact(t("person_kind"), this.label("person_kind", person.kind)),
        ...fact(t("person_level"), this.label("level", person.level)),
        ...fact(t("person_site"), person.site?.name || this.siteName(person.site_id)),
        ...fact(t("person_phone"), person.phone),
        ...fact(t("person_code"), person.code)),
      el("h4", { text: t("person_groups") }),
      this.groups.length ? el("div", { class: "stack" }, groupBoxes, saveGroups) : el("p", { class: "muted", text: t("no_groups") }),
      el("h4", { "data-t": "history", text: t("history") }),
      history,
      // The hub keeps the history: someone who was in a meeting stays in the directory.
      meetings.length
        ? el("p", { class: "hint", text: t("cannot_delete_person") })
        : el("button", { type: "button", class: "button danger", "data-action": "delete-person", text: t("delete_person"), onclick: () => this.remove(person) }));
    this.detail.hidden = false;
    this.detail.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  /** A tick box per group (a committee, a delegation), ticked for `ids`. */
  groupBoxes(ids) {
    return this.groups.map((g) => el("label", { class: "pick" },
      el("input", { type: "checkbox", name: "group_ids", value: g.id, checked: ids.has(g.id) }),
      el("span", { text: g.name })));
  }

  async saveGroups(person, boxes) {
    const { t } = this.ctx;
    const groupIds = [...boxes.querySelectorAll("input:checked")].map((b) => b.value);
    try {
      await this.ctx.api.patch(`/api/people/${encodeURIComponent(person.id)}`, { group_ids: groupIds });
      this.ctx.toast(t("groups_saved", { name: person.name }));
      await this.loadGroups();
      this.render();
    } catch (error) {
      this.ctx.fail(error);
    }
  }

  async remove(person) {
    const { t } = this.ctx;
    if (!(await this.ctx.confirm(t("confirm_delete_person", { name: person.name }), t("delete_person")))) return;
    try {
      await this.ctx.api.delete(`/api/people/${encodeURIComponent(person.id)}`);
      this.detail.hidden = true;
      this.ctx.toast(t("person_deleted", { name: person.name }));
      await this.search();
    } catch (error) {
      this.ctx.fail(error);
    }
  }
}

function fact(label, value) {
  return value ? [el("dt", { text: label }), el("dd", { text: String(value) })] : [];
}

function count(t, group) {
  const n = group.members ?? group.member_count ?? group.size;
  return typeof n === "number" ? t("n_members", { n }) : Array.isArray(n) ? t("n_members", { n: n.length }) : "";
}
