/*
 * 账号 Accounts (admins only; the tab is hidden for an operator and the hub
 * answers 403 anyway): the staff accounts (GET /api/accounts), a new
 * operator for a site (POST /api/accounts: they work only in that site's
 * subtree), and deleting one after a confirmation (DELETE /api/accounts/{aid}).
 */
import { el } from "../dom.js";
import { listOf } from "./people.js";
import { field, select, siteOptions } from "./widgets.js";

export class Accounts {
  constructor(ctx, root) {
    this.ctx = ctx;
    this.root = root;
    this.accounts = [];
    this.sites = [];
  }

  reset() {
    this.accounts = [];
    this.root.replaceChildren();
  }

  async show() {
    try {
      const [accounts, sites] = await Promise.all([this.ctx.api.get("/api/accounts"), this.ctx.sites()]);
      this.accounts = listOf(accounts, "accounts");
      this.sites = sites;
    } catch (error) {
      this.ctx.fail(error);
    }
    this.render();
  }

  render() {
    const { t } = this.ctx;
    const siteName = (id) => this.sites.find((s) => s.id === id)?.name || "";
    const me = this.ctx.session.current?.username;
    const rows = this.accounts.map((a) => el("tr", { "data-account-id": a.id },
      el("td", { class: "account-name" }, a.username, a.username === me ? el("span", { class: "muted", text: ` ${t("you")}` }) : null),
      el("td", { text: t(`account_role:${a.role}`) }),
      el("td", { text: a.site?.name || siteName(a.site_id) || (a.role === "admin" ? t("whole_city") : "") }),
      // One's own account is not deleted from here (the hub refuses it: 409).
      el("td", {}, a.username === me ? null
        : el("button", { type: "button", class: "button small danger-outline", "data-action": "delete-account", text: t("delete_account"), onclick: () => this.remove(a) }))));
    const table = rows.length
      ? el("div", { class: "table-scroll" }, el("table", { class: "data-table" },
        el("thead", {}, el("tr", {}, ...["username", "account_role", "account_site", "actions"].map((k) => el("th", { text: t(k) })))),
        el("tbody", {}, ...rows)))
      : el("p", { class: "muted", text: t("no_accounts") });
    this.root.replaceChildren(
      el("section", { class: "card" }, el("h2", { text: t("accounts_title") }), table),
      el("section", { class: "card" }, this.addForm()));
  }

  addForm() {
    const { t } = this.ctx;
    const form = el("form", { class: "stack", "data-form": "add-operator" },
      el("h3", { text: t("add_operator") }),
      el("p", { class: "hint", text: t("add_operator_hint") }),
      field(t, "username", el("input", { name: "username", required: true, maxlength: "64", autocomplete: "off", autocapitalize: "off", spellcheck: "false" })),
      field(t, "new_password", el("input", { name: "password", type: "password", required: true, minlength: "8", maxlength: "200", autocomplete: "new-password" })),
      field(t, "account_site", select("site_id", siteOptions(this.sites), { blank: t("choose_site") })),
      el("button", { type: "submit", class: "button primary", "data-action": "add-operator", text: t("add_operator") }));
    form.elements.site_id.required = true;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {
        username: form.elements.username.value.trim(),
        password: form.elements.password.value,
        role: "operator",
        site_id: form.elements.site_id.value,
      };
      try {
        await this.ctx.api.post("/api/accounts", body);
        this.ctx.toast(t("account_added", { name: body.username }));
        await this.show();
      } catch (error) {
        this.ctx.fail(error);
      }
    });
    return form;
  }

  async remove(account) {
    const { t } = this.ctx;
    if (!(await this.ctx.confirm(t("confirm_delete_account", { name: account.username }), t("delete_account")))) return;
    try {
      await this.ctx.api.delete(`/api/accounts/${encodeURIComponent(account.id)}`);
      this.ctx.toast(t("account_deleted", { name: account.username }));
      await this.show();
    } catch (error) {
      this.ctx.fail(error);
    }
  }
}
