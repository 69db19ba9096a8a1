// The live directory of a terminal: the sites it may call, grouped by
// district, with who is online now, a search box and a selection.
//
// Reach mirrors the server's rule (docs/contract.md, "Sites, terminals and
// calls"): the city's terminal reaches every site; any other terminal the
// sites below it and its parent. The server still decides: a call outside
// reach is refused with `forbidden`.
import { el } from "../dom.js";

const KIND_ORDER = { city: 0, district: 1, township: 2, station: 3, department: 4 };
export const MAX_CALLED = 200;

export class Directory {
  constructor({ root, t, mySiteId, onSelection }) {
    this.root = root;
    this.t = t;
    this.mySiteId = mySiteId;
    this.onSelection = onSelection;
    this.sites = new Map();
    this.selection = new Set();
    this.filter = "";
  }

  /** The whole directory (on connect and after a gap). */
  load(sites) {
    this.sites = new Map(sites.map((s) => [s.id, { ...s }]));
    for (const id of [...this.selection]) if (!this.reachable(this.sites.get(id))) this.selection.delete(id);
    this.render();
  }

  presence(siteId, online) {
    const site = this.sites.get(siteId);
    if (!site) return false;
    site.online = online;
    const row = this.root.querySelector(`.site-row[data-site-id="${CSS.escape(siteId)}"]`);
    if (row) {
      row.dataset.online = String(online);
      row.querySelector(".dot").title = this.t(online ? "online" : "offline");
      this.renderCounts();
    }
    return true;
  }

  me() {
    return this.sites.get(this.mySiteId) || null;
  }

  name(siteId) {
    return this.sites.get(siteId)?.name || siteId;
  }

  below(site, ancestor) {
    for (let at = site, hops = 0; at && hops < 64; at = this.sites.get(at.parent_id), hops++) {
      if (at.parent_id === ancestor.id) return true;
    }
    return false;
  }

  reachable(site) {
    const me = this.me();
    if (!site || !me || site.id === me.id) return false;
    if (me.kind === "city") return true;
    return site.id === me.parent_id || this.below(site, me);
  }

  /** The district a site belongs to (itself if it is one), or null for the city level. */
  districtOf(site) {
    for (let at = site, hops = 0; at && hops < 64; at = this.sites.get(at.parent_id), hops++) {
      if (at.kind === "district") return at;
    }
    return null;
  }

  groups() {
    const groups = new Map();
    for (const site of this.sites.values()) {
      if (!this.reachable(site)) continue;
      const district = this.districtOf(site);
      const key = district ? district.id : "";
      if (!groups.has(key)) groups.set(key, { key, name: district ? district.name : this.t("level_city"), sites: [] });
      groups.get(key).sites.push(site);
    }
    const sorted = [...groups.values()].sort((a, b) => (a.key === "") - (b.key === "") || a.name.localeCompare(b.name, "zh-CN"));
    for (const group of sorted) {
      group.sites.sort((a, b) => (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9) || a.name.localeCompare(b.name, "zh-CN"));
    }
    return sorted;
  }

  matches(site) {
    return !this.filter || site.name.toLowerCase().includes(this.filter);
  }

  setFilter(text) {
    this.filter = String(text || "").trim().toLowerCase();
    this.render();
  }

  toggle(siteId, on) {
    if (on && this.selection.size >= MAX_CALLED) return false;
    if (on) this.selection.add(siteId);
    else this.selection.delete(siteId);
    this.onSelection(this.selected());
    return true;
  }

  clear() {
    this.selection.clear();
    this.render();
  }

  selected() {
    return [...this.selection];
  }

  render() {
    const groups = this.groups();
    const fragment = document.createDocumentFragment();
    let shown = 0;
    for (const group of groups) {
      const visible = group.sites.filter((s) => this.matches(s));
      if (!visible.length) continue;
      shown += visible.length;
      const allOn = visible.every((s) => this.selection.has(s.id));
      const section = el("section", { class: "site-group", "data-group": group.key || "city" },
        el("div", { class: "site-group-head" },
          el("h3", { class: "site-group-name", text: group.name }),
          el("span", { class: "site-group-count muted" }),
          el("button", {
            type: "button", class: "button", "data-action": "select-group",
            text: this.t(allOn ? "unselect_group" : "select_group"),
            on: { click: () => this.selectGroup(visible, !allOn) },
          })));
      const list = el("ul", { class: "site-list" });
      for (const site of visible) list.append(this.row(site));
      section.append(list);
      fragment.append(section);
    }
    if (!shown) {
      fragment.append(el("p", { class: "muted", text: this.t(this.sites.size && groups.length ? "no_match" : "nothing_reachable") }));
    }
    this.root.replaceChildren(fragment);
    this.renderCounts();
    this.onSelection(this.selected());
  }

  row(site) {
    const box = el("input", {
      type: "checkbox", value: site.id, checked: this.selection.has(site.id),
      on: { change: (event) => { if (!this.toggle(site.id, event.target.checked)) event.target.checked = false; } },
    });
    return el("li", {},
      el("label", { class: "site-row", "data-site-id": site.id, "data-online": String(!!site.online), "data-kind": site.kind },
        box,
        el("span", { class: "dot", role: "img", title: this.t(site.online ? "online" : "offline") }),
        el("span", { class: "site-name", text: site.name }),
        el("span", { class: "kind-badge", text: this.t(`kind:${site.kind}`) })));
  }

  selectGroup(sites, on) {
    for (const site of sites) {
      if (on && this.selection.size >= MAX_CALLED) break;
      if (on) this.selection.add(site.id);
      else this.selection.delete(site.id);
    }
    this.render();
  }

  /** Online counts per group and overall, from the rows on the page. */
  renderCounts() {
    for (const section of this.root.querySelectorAll(".site-group")) {
      const rows = section.querySelectorAll(".site-row");
      const online = section.querySelectorAll('.site-row[data-online="true"]').length;
      section.querySelector(".site-group-count").textContent = this.t("directory_count", { online, total: rows.length });
    }
  }

  counts() {
    const reach = [...this.sites.values()].filter((s) => this.reachable(s));
    return { online: reach.filter((s) => s.online).length, total: reach.length };
  }
}
