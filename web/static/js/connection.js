// The one Socket.IO connection of the page, and the meeting's sequence.
//
// Every broadcast about the meeting carries `seq`, one more per meeting event.
// This module keeps the last seq it has applied:
//   - a broadcast at or below it is already part of the state we hold: dropped;
//   - a broadcast above last+1 means we missed something: it is still
//     delivered (it is news), and a `state:sync` is scheduled (throttled, so a
//     burst of gaps costs one sync);
//   - broadcasts that arrive while a sync is in flight wait for its answer and
//     are then applied in seq order on top of it.
// Broadcasts without seq (media:offer, media:active-speaker…) go straight through.
// On every (re)connect the state is synced again: socket.io-client reconnects
// with backoff by itself unless the server refused us.

const CALL_TIMEOUT_MS = 10000;
const RESYNC_DELAY_MS = 150;
const RETRY_SYNC_MS = 2000;
const RETRY_SYNC_MAX_MS = 30000;

export class Connection {
  /**
   * @param {Function} io the socket.io-client factory (window.io)
   * @param {string} token the participant's join token
   * @param {{onSync: Function, onEvent: Function, onStatus: Function}} handlers
   */
  constructor(io, token, { onSync, onEvent, onStatus }) {
    this.io = io;
    this.token = token;
    this.onSync = onSync;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.lastSeq = null;
    this.syncing = false;
    this.syncAgain = false;
    this.pending = [];
    this.resyncTimer = null;
    this.failedSyncs = 0;
    this.socket = null;
  }

  start() {
    const socket = this.io("/meeting", {
      // roster "delta": presence changes come as roster:presence {online, offline},
      // a few ids instead of the whole meeting to every page (app.js applies them).
      auth: { token: this.token, roster: "delta" },
      transports: ["websocket"],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 8000,
      randomizationFactor: 0.5,
    });
    this.socket = socket;
    this.onStatus("connecting");
    socket.on("connect", () => {
      if (!performance.getEntriesByName("plenary:connected").length) performance.mark("plenary:connected");
      this.onStatus("online");
      this.sync();
    });
    socket.on("connect_error", (err) => {
      // Not active: the server refused us (bad or expired token); socket.io
      // will not retry, and retrying with the same token could not help.
      if (socket.active) this.onStatus("reconnecting", err?.message);
      else this.onStatus("refused", err?.message || String(err));
    });
    socket.on("disconnect", (reason) => {
      // "io server disconnect": the hub ended us on purpose; no automatic retry.
      this.onStatus(socket.active ? "reconnecting" : "offline", reason);
    });
    socket.onAny((event, data) => this.receive(event, data));
  }

  reconnect() {
    this.socket?.connect();
  }

  /** Call a server event; always resolves to an ack shaped like the contract's. */
  async call(event, payload = {}) {
    if (!this.socket?.connected) {
      // A queued emit would be sent after reconnecting, long after the user
      // meant it (a vote, a hand); refuse now instead.
      return { ok: false, error: { code: "offline", message: "not connected to the hub" } };
    }
    try {
      return await this.socket.timeout(CALL_TIMEOUT_MS).emitWithAck(event, payload ?? {});
    } catch {
      return { ok: false, error: { code: "timeout", message: `no answer to ${event} in time` } };
    }
  }

  receive(event, data) {
    if (!data || typeof data.seq !== "number") {
      this.onEvent(event, data);
      return;
    }
    if (this.syncing || this.lastSeq === null) {
      this.pending.push([event, data]);
      return;
    }
    this.apply(event, data);
  }

  apply(event, data) {
    if (data.seq <= this.lastSeq) return;
    if (data.seq > this.lastSeq + 1) this.requestResync();
    this.lastSeq = data.seq;
    this.onEvent(event, data);
  }

  requestResync(delay = RESYNC_DELAY_MS) {
    if (this.resyncTimer !== null) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = null;
      this.sync();
    }, delay);
  }

  async sync() {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    let ok = false;
    try {
      const answer = await this.call("state:sync", {});
      if (answer?.ok) {
        ok = true;
        this.failedSyncs = 0;
        this.lastSeq = answer.seq;
        try {
          Promise.resolve(this.onSync(answer)).catch((err) => console.error("applying the synced state failed", err));
        } catch (err) {
          console.error("applying the synced state failed", err);
        }
      } else {
        this.onStatus("sync_failed", answer?.error?.message || "unknown");
      }
    } finally {
      this.syncing = false;
    }
    if (ok) {
      const queued = this.pending.sort((a, b) => a[1].seq - b[1].seq);
      this.pending = [];
      for (const [event, data] of queued) this.apply(event, data);
    }
    if (this.syncAgain) {
      this.syncAgain = false;
      this.requestResync();
    } else if (!ok && this.socket?.connected) {
      // The hub answered but could not sync us: retry, backing off.
      this.failedSyncs += 1;
      this.requestResync(Math.min(RETRY_SYNC_MS * 2 ** (this.failedSyncs - 1), RETRY_SYNC_MAX_MS));
    }
  }
}
