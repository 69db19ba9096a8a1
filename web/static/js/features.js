// Feature modules: found at GET /client/features, imported, given a context
// (`ctx`, documented at the top of app.js), told when the socket first
// connects (`connect`, in parallel with the first state:sync) and mounted
// after that sync. The shell routes broadcasts to the handlers they register.

import { relabel } from "./i18n.js";

/**
 * Let the browser run the tasks already queued (a negotiation step's answer)
 * before going on: a message task, queued behind them (scheduler.yield()
 * would jump the queue; setTimeout is throttled in a background tab).
 */
function yieldToBrowser() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

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
    this.handlers = new Map(); // event -> Set of {featureId, fn}
    // One record per module: {feature, ctx, mounted, resynced}.
    this.modules = [];
    // Broadcasts between the first state:sync and the start of mounting (while
    // the modules are still being imported): replayed to each module right
    // after the synchronous part of its mount(), where it registers its
    // handlers. From then on broadcasts reach handlers as they come, even
    // while an async mount is still waiting for something (a camera, an ack).
    this.started = false;
    this.early = [];
    this.contexts = new Map(); // feature → its ctx, one for the page's life
  }

  contextFor(feature) {
    if (!this.contexts.has(feature)) this.contexts.set(feature, this.makeContext(feature));
    return this.contexts.get(feature);
  }

  /** The first connect: modules with a `connect(ctx)` hook start what needs no state yet. */
  connectAll(features) {
    if (this.connected) return;
    this.connected = true;
    for (const feature of features) {
      if (typeof feature.connect !== "function") continue;
      try {
        const result = feature.connect(this.contextFor(feature));
        if (result && typeof result.catch === "function") result.catch((err) => console.error(err));
      } catch (err) {
        console.error(`feature ${feature.id} failed on connect`, err);
      }
    }
  }

  makeContext(feature) {
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
    if (!this.started) {
      this.early.push([event, data]);
      return;
    }
    for (const record of this.modules) {
      if (record.held) record.held.push([event, data]); // its mount() has not begun yet
      else this.deliver(record, event, data);
    }
  }

  deliver(record, event, data) {
    const featureId = record.feature.id;
    for (const entry of [...(this.handlers.get(event) || [])]) {
      if (entry.featureId !== featureId) continue;
      try {
        const result = entry.fn(data);
        if (result && typeof result.catch === "function") {
          result.catch((err) => console.error(`feature ${featureId} failed on ${event}`, err));
        }
      } catch (err) {
        console.error(`feature ${featureId} failed on ${event}`, err);
      }
    }
  }

  /**
   * Mount every module, in `order`, each one's synchronous part in a task of
   * its own: what the first (media) started (a negotiation) goes on between
   * the others' renderings. Async mounts run in parallel. Resolves to the ids
   * of the modules that failed.
   */
  async mountAll(features) {
    this.started = true;
    const early = this.early;
    this.early = [];
    this.modules = features.map((feature) => ({
      feature,
      ctx: this.contextFor(feature),
      mounted: false,
      resynced: false,
      held: [...early], // broadcasts for it until its mount() has begun
    }));
    const failed = [];
    const mounting = [];
    for (const [i, record] of [...this.modules].entries()) {
      if (i > 0) await yieldToBrowser();
      mounting.push(this.mountOne(record, failed));
    }
    await Promise.all(mounting);
    return failed;
  }

  async mountOne(record, failed) {
    const { feature, ctx } = record;
    try {
      const held = record.held;
      record.held = null;
      const mounting = feature.mount(ctx); // its synchronous part registers the handlers
      for (const [event, data] of held) this.deliver(record, event, data);
      await mounting;
    } catch (err) {
      console.error(`feature ${feature.id} failed to mount`, err);
      failed.push(feature.id);
      this.modules = this.modules.filter((r) => r !== record);
      for (const entries of this.handlers.values()) {
        for (const entry of [...entries]) if (entry.featureId === feature.id) entries.delete(entry);
      }
      return;
    }
    record.mounted = true;
    if (record.resynced) this.callSync(record, this.currentState());
  }

  /** After every re-sync: modules with a `sync(ctx, state)` hook catch up. */
  sync(state) {
    // Not mounting yet: modules will read this newer state on mount, so the
    // meeting's broadcasts held so far are stale; unsequenced ones (a
    // media:offer answering a connect hook's media:subscribe) are not state.
    if (!this.started) this.early = this.early.filter(([, data]) => typeof data?.seq !== "number");
    for (const record of this.modules) {
      if (record.held) record.held = record.held.filter(([, data]) => typeof data?.seq !== "number");
      if (record.mounted) this.callSync(record, state);
      else record.resynced = true; // called once its mount resolves
    }
  }

  callSync(record, state) {
    const { feature, ctx } = record;
    if (typeof feature.sync !== "function") return;
    try {
      const result = feature.sync(ctx, state);
      if (result && typeof result.catch === "function") result.catch((err) => console.error(err));
    } catch (err) {
      console.error(`feature ${feature.id} failed to sync`, err);
    }
  }

  /** After a language switch: `[data-t]` labels in the feature's places, then its `onLanguage` hook. */
  relabel(lang) {
    for (const { feature, ctx } of this.modules) {
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
