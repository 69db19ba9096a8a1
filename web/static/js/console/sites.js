/*
 * 站点 Sites: the tree of the city's halls, offices, stations and
 * departments (GET /api/sites, which answers an operator's subtree only).
 * Add a site under a parent (POST /api/sites), import a CSV/XLSX of sites
 * (POST /api/sites/import, all or nothing, row errors by line), and give a
 * site its terminal: a link, its QR code and a printable sheet
 * (POST /api/sites/{sid}/terminal), or revoke every link issued so far
 * (DELETE …/terminal, after a confirmation).
 */
import { el } from "../dom.js";
import { copyButton, field, importBox, linkField, qrImage, select, showPrintSheet, siteOptions, siteTree } from "./widgets.js";

export const SITE_KINDS = ["city", "district", "township", "station", "department"];

export class Sites {
  constructor(ctx, root) {
    this.ctx = ctx;
    this.root = root;
    this.sites = [];
    this.filter = "";
    this.built = false;
  }

  reset() {
    this.sites = [];
    this.built = false;
    this.root.replaceChildren();
  }

  build() {
    const { t } = this.ctx;
    this.count = el("span", { class: "muted" });
    this.search = el("input", { type: "search", class: "search", name: "site-search", autocomplete: "off", "data-t-placeholder": "search_sites", placeholder: t("search_sites") });
    this.search.addEventListener("input", () => {
      this.filter = this.search.value.trim();
      this.renderTree();
    });
    this.tree = el("ul", { class: "site-tree", "aria-label": t("tab_sites") });
    this.form = this.buildAddForm();
    this.root.replaceChildren(
      el("section", { class: "card" },
        el("h2", {}, el("span", { "data-t": "sites_title", text: t("sites_title") }), " ", this.count),
        el("div", { class: "row" }, this.search),
        this.tree),
      el("section", { class: "card", id: "site-add" }, this.form),
      el("section", { class: "card" }, importBox(this.ctx, {
        path: "/api/sites/import", title: "import_sites", hint: "import_sites_hint",
        onImported: () => this.reload(),
      })),
    );
    this.built = true;
  }

  buildAddForm() {
    const { t } = this.ctx;
    const kind = select("kind", SITE_KINDS.map((k) => [k, t(`group:${k}`)]), { value: "station" });
    for (const option of kind.options) option.dataset.t = `group:${option.value}`;
    this.parentSelect = select("parent_id", [], { blank: t("no_parent") });
    const form = el("form", { class: "stack", "data-form": "add-site" },
      el("h3", { "data-t": "add_site", text: t("add_site") }),
      field(t, "site_name", el("input", { name: "name", required: true, maxlength: "200", autocomplete: "off" })),
      field(t, "site_kind", kind),
      field(t, "site_parent", this.parentSelect),
      el("button", { type: "submit", class: "button primary", "data-action": "add-site", "data-t": "add_site", text: t("add_site") }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.add(form);
    });
    return form;
  }

  async show() {
    if (!this.built) this.build();
    await this.reload();
  }

  async reload() {
    this.ctx.forgetSites();
    try {
      this.sites = await this.ctx.sites();
    } catch (error) {
      this.ctx.fail(error);
      return;
    }
    this.render();
  }

  render() {
    if (!this.built) return;
    const { t } = this.ctx;
    this.count.textContent = t("n_sites", { n: this.sites.length });
    const chosen = this.parentSelect.value;
    // An operator adds sites only below its own: no top-level choice for it.
    const top = this.ctx.session.isAdmin ? [el("option", { value: "", text: t("no_parent") })] : [];
    this.parentSelect.replaceChildren(...top,
      ...siteOptions(this.sites).map(([id, label]) => el("option", { value: id, text: label })));
    if ([...this.parentSelect.options].some((o) => o.value === chosen)) this.parentSelect.value = chosen;
    this.renderTree();
  }

  renderTree() {
    const { t } = this.ctx;
    const needle = this.filter.toLowerCase();
    const rows = siteTree(this.sites).filter(({ site }) => !needle || site.name.toLowerCase().includes(needle));
    if (!rows.length) {
      this.tree.replaceChildren(el("li", { class: "empty", text: t(this.sites.length ? "no_match" : "no_sites") }));
      return;
    }
    this.tree.replaceChildren(...rows.map(({ site, depth }) => this.row(site, needle ? 0 : depth)));
  }

  row(site, depth) {
    const { t } = this.ctx;
    const extra = el("div", { class: "site-extra" });
    const item = el("li", { class: "site-node", "data-site-id": site.id, style: `--depth: ${depth}` },
      el("div", { class: "site-line" },
        el("span", { class: "site-name", text: site.name }),
        el("span", { class: "kind-badge", text: t(`group:${site.kind}`) }),
        el("span", { class: "site-actions" },
          el("button", { type: "button", class: "button small", "data-action": "add-child", text: t("add_child"), onclick: () => this.addUnder(site) }),
          el("button", { type: "button", class: "button small", "data-action": "issue-terminal", text: t("issue_terminal"), onclick: () => this.issue(site, extra) }),
          el("button", { type: "button", class: "button small danger-outline", "data-action": "revoke-terminal", text: t("revoke_terminal"), onclick: () => this.revoke(site, extra) }))),
      extra);
    return item;
  }

  addUnder(site) {
    this.parentSelect.value = site.id;
    const kinds = { city: "district", district: "township", township: "station" };
    this.form.elements.kind.value = kinds[site.kind] || "station";
    this.form.scrollIntoView({ behavior: "smooth", block: "center" });
    this.form.elements.name.focus();
  }

  async add(form) {
    const { t } = this.ctx;
    const body = { name: form.elements.name.value.trim(), kind: form.elements.kind.value };
    if (form.elements.parent_id.value) body.parent_id = form.elements.parent_id.value;
    try {
      const site = await this.ctx.api.post("/api/sites", body);
      this.ctx.toast(t("site_added", { name: site.name }));
      form.elements.name.value = "";
      await this.reload();
    } catch (error) {
      this.ctx.fail(error);
    }
  }

  async issue(site, extra) {
    const { t } = this.ctx;
    let answer;
    try {
      answer = await this.ctx.api.post(`/api/sites/${encodeURIComponent(site.id)}/terminal`, {});
    } catch (error) {
      this.ctx.fail(error);
      return;
    }
    const url = answer.join_url;
    const qrSlot = el("div", { class: "qr-slot" });
    const printButton = el("button", { type: "button", class: "button", "data-action": "print-terminal", text: t("print") });
    extra.replaceChildren(el("div", { class: "terminal-link" },
      el("p", { class: "hint", text: t("terminal_issued", { name: site.name }) }),
      el("div", { class: "row" }, linkField(url, { name: "terminal-link" }), copyButton(t, url), printButton,
        el("button", { type: "button", class: "button", text: t("close"), onclick: () => extra.replaceChildren() })),
      qrSlot));
    try {
      qrSlot.replaceChildren(await qrImage(this.ctx.api, url, t("qr_of", { name: site.name })));
    } catch (error) {
      qrSlot.replaceChildren(el("p", { class: "form-error", text: t("qr_failed", { reason: this.ctx.plain(error) }) }));
    }
    printButton.addEventListener("click", () => {
      const qr = qrSlot.querySelector("img")?.cloneNode(true);
      showPrintSheet(el("article", { class: "sheet terminal-sheet" },
        el("h1", { text: site.name }),
        el("p", { class: "sheet-kind", text: t(`group:${site.kind}`) }),
        el("p", { text: t("sheet_terminal_intro") }),
        qr || null,
        el("p", { class: "sheet-link", text: url }),
        el("p", { class: "hint", text: t("sheet_terminal_keep") })));
    });
  }

  async revoke(site, extra) {
    const { t } = this.ctx;
    if (!(await this.ctx.confirm(t("confirm_revoke", { name: site.name }), t("revoke_terminal")))) return;
    try {
      await this.ctx.api.delete(`/api/sites/${encodeURIComponent(site.id)}/terminal`);
      extra.replaceChildren();
      this.ctx.toast(t("terminal_revoked", { name: site.name }));
    } catch (error) {
      this.ctx.fail(error);
    }
  }
}
