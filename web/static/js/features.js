// Feature modules: found at GET /client/features, imported, given a context
// (`ctx`, documented at the top of app.js) and mounted after the first
// state:sync. The shell routes broadcasts to the handlers they register.

import { relabel } from "./i18n.js";

/** Import every feature module the hub lists; failures are reported, not fatal. */
export async function importFeatures() {
  const response = await fetch("/client/features", { cache: "no-store" });
  if (!response.ok) throw new Error(`GET /client/features: HTTP ${response.status}`);
  const urls = await response.json();
  const results = await Promise.allSettled(urls.map((url) => import(url)));
  const loaded = [];
  const failed = [];
  results.forEach((result, i) => {
    const feature = result.status === "fulfilled" ? result.value.default : null;
    if (feature && typeof feature.id === "string" && typeof feature.mount === "function") {
      loaded.push(feature);
    } else {
      console.error("feature module not usable", urls[i], result.reason || "no default {id, mount}");
      failed.push(urls[i].split("/").pop());
    }
  });
  loaded.sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.id.localeCompare(b.id));
  return { loaded, failed };
}

export class FeatureHost {
  /**
   * @param {object} deps shell services: i18n, surfaces, connection, token, state() and participant(id)
   */
  constructor({ i18n, surfaces, connection, token, state, participant }) {
    this.i18n = i18n;
    this.surfaces = surfaces;
    this.connection = connection;
    this.token = token;
    this.currentState = state;
    this.participant = participant;
    this.mounted = []; // [{feature, ctx}]
    this.handlers = new Map(); // event -> Set of {featureId, fn}
    // Broadcasts that arrive between the first state:sync and the end of
    // mounting are held and replayed, so no module misses one.
    this.ready = false;
    this.backlog = [];
  }

  contextFor(feature) {
    const host = this;
    const tables = [feature.strings || {}];
    const t = this.i18n.translator(tables);
    const order = feature.order ?? 100;
    return {
      get me() {
        return host.currentState()?.me;
      },
      get meeting() {
        return host.currentState()?.meeting;
      },
      get state() {
        return host.currentState();
      },
      get lang() {
        return host.i18n.lang;
      },
      token: this.token,
      call: (event, payload) => host.connection.call(event, payload),
      on: (event, fn) => host.subscribe(feature.id, event, fn),
      t,
      panel: (id, title = id, options = {}) => {
        const titleKey = host.i18n.has(tables, title) ? title : null;
        return host.surfaces.panel(feature.id, id, titleKey ? t(titleKey) : title, {
          order,
          ...options,
          titleKey,
        });
      },
      stage: (id = feature.id, options = {}) => host.surfaces.stage(feature.id, id, { order, ...options }),
      api: (path, options = {}) => {
        const headers = new Headers(options.headers || {});
        headers.set("Authorization", `Bearer ${host.token}`);
        const init = { ...options, headers };
        if (options.json !== undefined) {
          headers.set("Content-Type", "application/json");
          init.body = JSON.stringify(options.json);
          delete init.json;
        }
        return fetch(path, init);
      },
      toast: (message, options) => host.surfaces.toast(message, options),
      participant: (id) => host.participant(id),
      nameOf: (id) => host.participant(id)?.name ?? id ?? "",
      roleLabel: (role) => t(`role:${role}`),
    };
  }

  subscribe(featureId, event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    const entry = { featureId, fn };
    this.handlers.get(event).add(entry);
    return () => this.handlers.get(event)?.delete(entry);
  }

  dispatch(event, data) {
    if (!this.ready) {
      this.backlog.push([event, data]);
      return;
    }
    for (const { featureId, fn } of [...(this.handlers.get(event) || [])]) {
      try {
        const result = fn(data);
        if (result && typeof result.catch === "function") {
          result.catch((err) => console.error(`feature ${featureId} failed on ${event}`, err));
        }
      } catch (err) {
        console.error(`feature ${featureId} failed on ${event}`, err);
      }
    }
  }

  async mountAll(features) {
    const failed = [];
    await Promise.all(
      features.map(async (feature) => {
        const ctx = this.contextFor(feature);
        try {
          await feature.mount(ctx);
          this.mounted.push({ feature, ctx });
        } catch (err) {
          console.error(`feature ${feature.id} failed to mount`, err);
          failed.push(feature.id);
        }
      }),
    );
    this.ready = true;
    const held = this.backlog;
    this.backlog = [];
    for (const [event, data] of held) this.dispatch(event, data);
    return failed;
  }

  /** After every re-sync: modules with a `sync(ctx, state)` hook catch up. */
  sync(state) {
    // Held broadcasts are older than this state, which modules read on mount.
    if (!this.ready) this.backlog = [];
    for (const { feature, ctx } of this.mounted) {
      if (typeof feature.sync !== "function") continue;
      try {
        const result = feature.sync(ctx, state);
        if (result && typeof result.catch === "function") result.catch((err) => console.error(err));
      } catch (err) {
        console.error(`feature ${feature.id} failed to sync`, err);
      }
    }
  }

  /** After a language switch: `[data-t]` labels in the feature's places, then its `onLanguage` hook. */
  relabel(lang) {
    for (const { feature, ctx } of this.mounted) {
      for (const root of document.querySelectorAll(`[data-feature="${CSS.escape(feature.id)}"]`)) {
        relabel(root, ctx.t);
        const heading = root.querySelector(":scope > .panel-title[data-t]");
        if (heading) root.setAttribute("aria-label", heading.textContent);
      }
      if (typeof feature.onLanguage === "function") {
        try {
          feature.onLanguage(ctx, lang);
        } catch (err) {
          console.error(`feature ${feature.id} failed to relabel`, err);
        }
      }
    }
  }
}
