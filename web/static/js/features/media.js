/*
 * The video grid: this participant's camera preview, every subscribed site,
 * and one large spotlight tile.
 *
 * Two peer connections, as the contract says: `send` publishes camera, mic
 * and screen (media:publish); `recv` carries everything else (media:subscribe
 * "all", then the server's media:offer / our media:answer). The spotlight is
 * the inquiry's floor holder while a topic is open (inquiry:state.speaker, or
 * the answering respondent), else the active speaker.
 *
 * aiortc does not trickle ICE: every description is sent only once gathering
 * is complete (or after a short timeout on a slow network).
 *
 * Fast to the picture (bench/join.py): media:subscribe goes out as soon as
 * the socket connects (the `connect` hook), in parallel with state:sync; the
 * receiving connection is made then too, with a candidate pool so its ICE
 * gathering is done before the offer comes; the hub's offer waits for
 * mount() and is applied at once. A page opened with #media=on (a terminal's
 * accept) opens the camera at connect time as well.
 */

import { waitForGathering } from "../rtc.js";

// Milestones of the way to the picture (bench/join.py prints them): the first of each name only.
const mark = (name) => performance.getEntriesByName(`plenary:${name}`).length || performance.mark(`plenary:${name}`);
const STYLE = `
.vg { display: flex; flex-direction: column; gap: 8px; width: 100%; }
.vg-bar { display: flex; flex-wrap: wrap; gap: 8px; }
.vg-spot { position: relative; background: #111; border-radius: var(--radius, 8px); overflow: hidden; aspect-ratio: 16/9; max-height: 62vh; }
.vg-spot:empty::after { content: attr(data-empty); color: #bbb; position: absolute; inset: 0; display: grid; place-items: center; font-size: 1.1rem; }
.vg-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 6px; }
.vg-tile { position: relative; background: #1d1d1f; border-radius: 6px; overflow: hidden; aspect-ratio: 16/9; border: 3px solid transparent; cursor: pointer; }
.vg-tile.is-speaking { border-color: var(--ok, #2e7d32); }
.vg-tile video { width: 100%; height: 100%; object-fit: cover; background: #000; display: block; }
.vg-spot .vg-tile { aspect-ratio: auto; height: 100%; border: none; cursor: default; }
.vg-spot .vg-tile video { object-fit: contain; }
.vg-label { position: absolute; left: 6px; bottom: 6px; right: 6px; color: #fff; font-size: .9rem; text-shadow: 0 1px 2px #000; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.vg-label .vg-badge { background: var(--accent, #b71c1c); color: #fff; border-radius: 4px; padding: 0 6px; margin-right: 6px; font-size: .8rem; }
.vg-tile.is-paused video { opacity: .35; }
.vg-tile.audio-only::before { content: "🎙"; position: absolute; inset: 0; display: grid; place-items: center; font-size: 2rem; opacity: .6; }
`;

class VideoGrid {
  constructor(ctx) {
    this.ctx = ctx;
    this.send = null;
    this.recv = null;
    this.local = null; // MediaStream of camera + mic
    this.screen = null;
    this.streams = new Map(); // participant id → MediaStream of what we receive
    this.consumers = new Map(); // mid → {participant_id, kind, source, track_id}
    this.tiles = new Map(); // participant id → tile element
    this.activeSpeaker = null;
    this.floor = null;
    this.pinned = null;
    this.offers = Promise.resolve(); // server offers are applied one at a time
    this.pendingOffers = 0;
    this.subscribed = false;
    this.capture = null; // a getUserMedia started before mount (#media=on)
    this.videoPaused = false; // audio only on a weak link (quality.js)
    this.pausedTracks = new Map(); // sender → the video track it is not sending
  }

  /** At the first connect, before the state is known: receive at once. */
  connect() {
    this.ensureRecv();
    this.subscribe();
    if (wantsMediaOn()) this.capture = openCamera();
  }

  mount() {
    const { ctx } = this;
    if (!document.getElementById("media-style")) {
      const style = document.createElement("style");
      style.id = "media-style";
      style.textContent = STYLE;
      document.head.append(style);
    }
    const root = ctx.stage("media");
    root.classList.add("vg");
    root.innerHTML = `
      <div class="vg-bar"></div>
      <div class="vg-spot" data-t-empty="no_video"></div>
      <div class="vg-grid"></div>`;
    this.bar = root.querySelector(".vg-bar");
    this.spot = root.querySelector(".vg-spot");
    this.grid = root.querySelector(".vg-grid");
    this.renderBar();
    this.labelEmpty();

    ctx.on("media:offer", (data) => this.enqueueOffer(data));
    ctx.on("media:tracks", () => this.renderTiles());
    ctx.on("media:active-speaker", (data) => {
      this.activeSpeaker = data?.participant_id ?? null;
      this.renderSpotlight();
    });
    ctx.on("inquiry:state", (state) => this.onInquiry(state));
    ctx.on("roster", () => this.renderLabels());
    this.onInquiry(ctx.state.inquiry);
    window.addEventListener("pagehide", () => this.close());
    // Expose the peer connections for diagnostics (and for the browser tests).
    window.plenaryMedia = this;
    // The receiving connection was made at connect, before the state said which ICE servers to use.
    const iceServers = ctx.state.ice_servers || [];
    if (this.recv && iceServers.length) {
      try {
        this.recv.setConfiguration({ iceServers, iceCandidatePoolSize: 1 });
      } catch (err) {
        console.warn("could not give the receiving connection its ICE servers; making it again", err);
        if (this.recv.signalingState === "stable" && !this.recv.remoteDescription) {
          this.recv.close();
          this.recv = null;
          this.ensureRecv();
        }
      }
    }
    if (!this.subscribed) this.subscribe();
    // A terminal that accepted or started a call opens the meeting with
    // #media=on: the accept click was the one click to the picture.
    if (wantsMediaOn() && this.canPublish() && !this.local) {
      this.startPublishing();
    } else if (this.capture) {
      this.capture.then((stream) => stream.getTracks().forEach((t) => t.stop()), () => {});
      this.capture = null;
    }
  }

  labelEmpty() {
    this.spot.dataset.empty = this.ctx.t("no_video");
  }

  canPublish() {
    return !["observer"].includes(this.ctx.me.role);
  }

  renderBar() {
    const { ctx } = this;
    this.bar.replaceChildren();
    if (!this.canPublish()) return;
    const camera = document.createElement("button");
    camera.type = "button";
    camera.className = this.local ? "button danger" : "button primary";
    camera.dataset.action = this.local ? "stop-camera" : "start-camera";
    camera.textContent = ctx.t(this.local ? "stop_camera" : "start_camera");
    camera.addEventListener("click", () => (this.local ? this.stopPublishing() : this.startPublishing()));
    this.bar.append(camera);
    if (this.local && navigator.mediaDevices?.getDisplayMedia) {
      const share = document.createElement("button");
      share.type = "button";
      share.className = "button";
      share.dataset.action = "screen";
      share.textContent = ctx.t(this.screen ? "stop_screen" : "share_screen");
      share.addEventListener("click", () => (this.screen ? this.stopScreen() : this.shareScreen()));
      this.bar.append(share);
    }
    if (this.local) {
      const mute = document.createElement("button");
      mute.type = "button";
      mute.className = "button";
      const audio = this.local.getAudioTracks()[0];
      mute.dataset.action = "mute";
      mute.textContent = ctx.t(audio && !audio.enabled ? "unmute" : "mute");
      mute.addEventListener("click", () => {
        if (audio) audio.enabled = !audio.enabled;
        this.renderBar();
      });
      this.bar.append(mute);
    }
  }

  // ── receiving ────────────────────────────────────────────────────────────

  newPeerConnection(options = {}) {
    return new RTCPeerConnection({ iceServers: this.ctx.state?.ice_servers || [], ...options });
  }

  ensureRecv() {
    if (this.recv) return;
    // The pool gathers candidates now, so answering the offer does not wait for it.
    this.recv = this.newPeerConnection({ iceCandidatePoolSize: 1 });
    this.recv.addEventListener("track", (event) => this.onTrack(event));
  }

  async subscribe() {
    this.ensureRecv();
    this.subscribed = true;
    mark("subscribe");
    const ack = await this.ctx.call("media:subscribe", { tracks: "all" });
    if (!ack.ok && ack.error?.code !== "offline") this.ctx.toast(ack.error.message, { kind: "error" });
  }

  enqueueOffer(data) {
    const failed = (err) => {
      console.error("media offer failed", err);
      this.ctx.toast(this.ctx.t("media_failed"), { kind: "error" });
    };
    // An idle queue applies the offer right now (not a microtask later, after
    // the other features' mounts): the browser negotiates while they render.
    const run = this.pendingOffers === 0 ? this.applyOffer(data) : this.offers.then(() => this.applyOffer(data));
    this.pendingOffers += 1;
    this.offers = run.catch(failed).finally(() => {
      this.pendingOffers -= 1;
    });
  }

  async applyOffer({ sdp, consumers }) {
    mark("offer");
    // Each offer lists every consumer this connection has: a released m-line drops out.
    this.consumers = new Map((consumers || []).map((c) => [c.mid, c]));
    await this.recv.setRemoteDescription({ type: "offer", sdp });
    mark("remote-set");
    await this.recv.setLocalDescription(await this.recv.createAnswer());
    mark("local-set");
    await waitForGathering(this.recv);
    mark("answer");
    const ack = await this.ctx.call("media:answer", { sdp: this.recv.localDescription.sdp });
    if (!ack.ok) throw new Error(ack.error?.message);
    this.pruneStreams();
  }

  onTrack(event) {
    const info = this.consumers.get(event.transceiver.mid);
    if (!info) return;
    mark("track");
    let stream = this.streams.get(info.participant_id);
    if (!stream) {
      stream = new MediaStream();
      this.streams.set(info.participant_id, stream);
    }
    for (const old of stream.getTracks().filter((t) => t.kind === event.track.kind)) stream.removeTrack(old);
    stream.addTrack(event.track);
    event.track.addEventListener("ended", () => {
      stream.removeTrack(event.track);
      this.renderTiles();
    });
    this.renderTiles();
  }

  pruneStreams() {
    // A consumer that went away leaves its transceiver inactive; drop its track.
    const live = new Set();
    for (const t of this.recv.getTransceivers()) {
      if (t.currentDirection === "recvonly" && t.receiver.track) live.add(t.receiver.track);
    }
    for (const stream of this.streams.values()) {
      for (const track of stream.getTracks()) if (!live.has(track)) stream.removeTrack(track);
    }
    this.renderTiles();
  }

  // ── publishing ───────────────────────────────────────────────────────────

  async startPublishing() {
    const capture = this.capture || openCamera();
    this.capture = null;
    try {
      this.local = await capture;
    } catch (err) {
      this.ctx.toast(this.ctx.t("no_camera", { reason: err.message }), { kind: "error" });
      return;
    }
    this.send = this.newPeerConnection();
    for (const track of this.local.getTracks()) this.send.addTransceiver(track, { direction: "sendonly" });
    if (!(await this.negotiatePublish())) return this.stopPublishing();
    this.renderBar();
    this.renderTiles();
  }

  async negotiatePublish() {
    const pc = this.send;
    await pc.setLocalDescription(await pc.createOffer());
    await waitForGathering(pc);
    const sources = {};
    for (const t of pc.getTransceivers()) {
      const track = t.sender.track;
      if (!track || t.mid == null) continue;
      sources[t.mid] = track.kind === "audio" ? "mic" : track === this.screenTrack ? "screen" : "camera";
    }
    const ack = await this.ctx.call("media:publish", { sdp: pc.localDescription.sdp, sources });
    if (!ack.ok) {
      this.ctx.toast(ack.error.message, { kind: "error" });
      return false;
    }
    await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    return true;
  }

  /** Video we publish (camera, screen), sent or held back. */
  hasVideoToSend() {
    if (!this.send) return false;
    return this.send.getSenders().some((s) => (s.track || this.pausedTracks.get(s))?.kind === "video");
  }

  /**
   * Audio only on a weak link (quality.js): the video senders stop sending
   * (replaceTrack(null): no renegotiation, no video packets, the audio goes
   * on), and send their tracks again when `on`.
   */
  async setVideoSending(on) {
    this.videoPaused = !on;
    if (!this.send) return;
    if (!on) {
      for (const sender of this.send.getSenders()) {
        if (sender.track?.kind !== "video") continue;
        this.pausedTracks.set(sender, sender.track);
        await sender.replaceTrack(null);
      }
    } else {
      const paused = [...this.pausedTracks];
      this.pausedTracks.clear();
      for (const [sender, track] of paused) {
        if (track.readyState === "live" && this.send?.getSenders().includes(sender)) await sender.replaceTrack(track);
      }
    }
    this.tiles.get(this.ctx.me?.id)?.classList.toggle("is-paused", !on);
  }

  async shareScreen() {
    try {
      this.screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
    } catch {
      return;
    }
    this.screenTrack = this.screen.getVideoTracks()[0];
    this.screenTrack.addEventListener("ended", () => this.stopScreen());
    this.screenTransceiver = this.send.addTransceiver(this.screenTrack, { direction: "sendonly" });
    await this.negotiatePublish();
    if (this.videoPaused) await this.setVideoSending(false);
    this.renderBar();
  }

  async stopScreen() {
    if (!this.screen) return;
    for (const track of this.screen.getTracks()) track.stop();
    this.screen = null;
    this.screenTrack = null;
    if (this.screenTransceiver) {
      this.screenTransceiver.stop();
      this.screenTransceiver = null;
      await this.negotiatePublish();
    }
    this.renderBar();
  }

  async stopPublishing() {
    await this.stopScreen();
    for (const track of this.local?.getTracks() || []) track.stop();
    this.local = null;
    this.send?.close();
    this.send = null;
    this.pausedTracks.clear();
    this.videoPaused = false;
    await this.ctx.call("media:unpublish", {});
    this.renderBar();
    this.renderTiles();
  }

  /** After a re-sync: the hub may have dropped our peers (we reconnected). */
  async resume(state) {
    const media = state.media || {};
    if (media.available === false) return;
    if (this.local && !media.publishing) {
      this.send?.close();
      this.send = this.newPeerConnection();
      for (const track of this.local.getTracks()) this.send.addTransceiver(track, { direction: "sendonly" });
      this.pausedTracks.clear();
      await this.negotiatePublish();
      if (this.videoPaused) await this.setVideoSending(false);
    }
    const others = (state.tracks || []).some((t) => t.participant_id !== this.ctx.me.id);
    if (others && !media.consumers) {
      this.recv?.close();
      this.recv = null;
      this.streams.clear();
      this.consumers.clear();
      this.renderTiles();
      await this.subscribe();
    }
  }

  close() {
    for (const track of this.local?.getTracks() || []) track.stop();
    this.send?.close();
    this.recv?.close();
  }

  // ── layout ───────────────────────────────────────────────────────────────

  onInquiry(state) {
    const active = state && state.topic && state.stage && state.stage !== "idle";
    this.floor = active ? state.speaker || state.respondent || null : null;
    this.renderSpotlight();
  }

  spotlightId() {
    for (const id of [this.pinned, this.floor, this.activeSpeaker]) {
      if (id && (this.streams.has(id) || (id === this.ctx.me.id && this.local))) return id;
    }
    const first = this.streams.keys().next();
    return first.done ? (this.local ? this.ctx.me.id : null) : first.value;
  }

  tileFor(id) {
    let tile = this.tiles.get(id);
    if (!tile) {
      tile = document.createElement("div");
      tile.className = "vg-tile";
      tile.dataset.participant = id;
      const video = document.createElement("video");
      video.autoplay = true;
      video.playsInline = true;
      const label = document.createElement("div");
      label.className = "vg-label";
      tile.append(video, label);
      tile.addEventListener("click", () => {
        this.pinned = this.pinned === id ? null : id;
        this.renderSpotlight();
      });
      this.tiles.set(id, tile);
    }
    const video = tile.querySelector("video");
    const mine = id === this.ctx.me.id;
    const stream = mine ? this.local : this.streams.get(id);
    video.muted = mine; // never play our own microphone back
    if (stream && video.srcObject !== stream) video.srcObject = stream;
    tile.classList.toggle("audio-only", !!stream && stream.getVideoTracks().length === 0);
    return tile;
  }

  renderTiles() {
    const ids = [...this.streams.keys()].filter((id) => this.streams.get(id).getTracks().length > 0);
    if (this.local) ids.unshift(this.ctx.me.id);
    for (const [id, tile] of this.tiles) {
      if (!ids.includes(id)) {
        tile.remove();
        this.tiles.delete(id);
      }
    }
    for (const id of ids) this.tileFor(id);
    this.renderSpotlight();
  }

  renderSpotlight() {
    if (!this.spot) return;
    const spotId = this.spotlightId();
    const gridTiles = [];
    for (const [id, tile] of this.tiles) {
      tile.classList.toggle("is-speaking", id === this.activeSpeaker);
      if (id === spotId) {
        if (tile.parentElement !== this.spot) this.spot.replaceChildren(tile);
      } else {
        gridTiles.push(tile);
      }
    }
    if (!spotId) this.spot.replaceChildren();
    for (const tile of gridTiles) if (tile.parentElement !== this.grid) this.grid.append(tile);
    // Videos moved between containers pause in some browsers; keep them playing.
    for (const tile of this.tiles.values()) tile.querySelector("video").play?.().catch(() => {});
    this.renderLabels();
  }

  renderLabels() {
    const { ctx } = this;
    for (const [id, tile] of this.tiles) {
      const label = tile.querySelector(".vg-label");
      const person = ctx.participant(id);
      const name = id === ctx.me.id ? ctx.t("me") : person?.name || ctx.nameOf(id) || "";
      const site = person?.site?.name ? ` · ${person.site.name}` : "";
      label.replaceChildren();
      if (id === this.floor) {
        const badge = document.createElement("span");
        badge.className = "vg-badge";
        badge.textContent = ctx.t("floor");
        label.append(badge);
      }
      label.append(document.createTextNode(name + site));
    }
  }
}

function openCamera() {
  return navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true },
    video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 25 } },
  });
}

function wantsMediaOn() {
  return new URLSearchParams(window.location.hash.slice(1)).get("media") === "on";
}

let grid = null;

export default {
  id: "media",
  order: 10,
  strings: {
    "zh-CN": {
      start_camera: "开启摄像头和麦克风",
      stop_camera: "关闭摄像头",
      share_screen: "共享屏幕",
      stop_screen: "停止共享",
      mute: "静音",
      unmute: "取消静音",
      me: "我",
      floor: "发言",
      no_video: "暂无视频",
      no_camera: "无法打开摄像头：{reason}",
      media_failed: "音视频连接失败，正在重试",
    },
    en: {
      start_camera: "Start camera and mic",
      stop_camera: "Stop camera",
      share_screen: "Share screen",
      stop_screen: "Stop sharing",
      mute: "Mute",
      unmute: "Unmute",
      me: "Me",
      floor: "Floor",
      no_video: "No video yet",
      no_camera: "Cannot open the camera: {reason}",
      media_failed: "Media connection failed",
    },
  },
  connect(ctx) {
    grid = new VideoGrid(ctx);
    grid.connect();
  },
  mount(ctx) {
    grid = grid || new VideoGrid(ctx);
    grid.mount();
  },
  sync(ctx, state) {
    grid?.onInquiry(state.inquiry);
    grid?.renderTiles();
    grid?.resume(state);
  },
  onLanguage() {
    grid?.renderBar();
    grid?.labelEmpty();
    grid?.renderLabels();
  },
};
