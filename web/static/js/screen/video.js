/*
 * What the big screen receives: every audio track (a hall plays the remote
 * speakers through its PA) and the floor holder's video only (their camera,
 * else their shared screen). It asks for exactly those with media:subscribe
 * {tracks: [id…]} and asks again whenever the floor or the published tracks
 * change; the hub answers each with a media:offer on the receiving peer
 * connection, which this page answers (media:answer), as the meeting client
 * does (features/media.js, whose class is not importable without the shell).
 */

import { waitForGathering } from "../rtc.js";

const LIVE = new Set(["recvonly", "sendrecv"]);

export class FloorVideo {
  /**
   * @param {{videoBox: HTMLElement, video: HTMLVideoElement, audioBox: HTMLElement,
   *          call: Function, onSoundBlocked: Function}} options
   */
  constructor({ videoBox, video, audioBox, call, onSoundBlocked }) {
    this.videoBox = videoBox;
    this.video = video;
    this.audioBox = audioBox;
    this.call = call;
    this.onSoundBlocked = onSoundBlocked;
    this.recv = null;
    this.iceServers = [];
    this.tracks = [];
    this.floorId = null;
    this.sentKey = null; // the track list last asked for ("" = nothing), null = not asked
    this.asking = false;
    this.askAgain = false;
    this.consumers = new Map(); // mid → {participant_id, kind, source, track_id}
    this.offers = Promise.resolve();
    this.audios = new Map(); // mid → <audio>
    this.available = true;
    this.videoBox.classList.add("is-empty");
  }

  /** After every state:sync: the tracks, and whether the hub still holds our receiving peer. */
  sync(state) {
    this.iceServers = state.ice_servers || [];
    this.tracks = state.tracks || [];
    this.available = state.media?.available !== false;
    if (this.sentKey && state.media && !state.media.consumers) {
      // We reconnected: the hub's side of the receiving connection is gone.
      this.reset();
    }
    this.update();
  }

  reset() {
    this.recv?.close();
    this.recv = null;
    this.consumers.clear();
    this.sentKey = null;
    this.attach();
  }

  setTracks(tracks) {
    this.tracks = tracks;
    this.update();
  }

  setFloor(id) {
    this.floorId = id;
    this.update();
    this.attach();
  }

  wanted() {
    const audio = this.tracks.filter((t) => t.kind === "audio").map((t) => t.id);
    const theirs = this.tracks.filter((t) => t.kind === "video" && t.participant_id === this.floorId);
    const video = theirs.find((t) => t.source !== "screen") || theirs[0];
    return [...audio, ...(video ? [video.id] : [])].sort();
  }

  async update() {
    if (!this.available) return;
    if (this.asking) {
      this.askAgain = true;
      return;
    }
    const want = this.wanted();
    const key = want.join(",");
    if (key === this.sentKey || (this.sentKey === null && want.length === 0)) return;
    this.asking = true;
    this.ensureRecv();
    const ack = await this.call("media:subscribe", { tracks: want });
    // Refused (a track that just went, or offline): the next media:tracks or sync asks again.
    this.sentKey = ack?.ok ? key : null;
    if (!ack?.ok) console.warn("media:subscribe refused", ack?.error);
    this.asking = false;
    if (this.askAgain) {
      this.askAgain = false;
      this.update();
    }
  }

  ensureRecv() {
    if (this.recv) return;
    this.recv = new RTCPeerConnection({ iceServers: this.iceServers });
    this.recv.addEventListener("track", () => this.attach());
  }

  offer(data) {
    this.offers = this.offers
      .then(() => this.applyOffer(data))
      .catch((err) => console.error("media offer failed", err));
  }

  async applyOffer({ sdp, consumers }) {
    this.ensureRecv();
    const pc = this.recv;
    for (const c of consumers || []) this.consumers.set(c.mid, c);
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await waitForGathering(pc);
    const ack = await this.call("media:answer", { sdp: pc.localDescription.sdp });
    if (!ack.ok) throw new Error(ack.error?.message);
    this.attach();
  }

  /** Put the received tracks where they play: the floor holder's video, every audio. */
  attach() {
    let videoTrack = null;
    const audio = new Map();
    for (const t of this.recv?.getTransceivers() || []) {
      const info = this.consumers.get(t.mid);
      if (!info || !LIVE.has(t.currentDirection) || !t.receiver.track) continue;
      if (info.kind === "video" && info.participant_id === this.floorId) videoTrack = t.receiver.track;
      if (info.kind === "audio") audio.set(t.mid, t.receiver.track);
    }
    const current = this.video.srcObject?.getVideoTracks?.()[0] || null;
    if (current !== videoTrack) {
      this.video.srcObject = videoTrack ? new MediaStream([videoTrack]) : null;
      if (videoTrack) this.video.play().catch(() => {});
    }
    this.videoBox.classList.toggle("is-empty", !videoTrack);
    this.videoBox.dataset.participant = videoTrack ? this.floorId : "";

    for (const [mid, node] of this.audios) {
      if (audio.get(mid) !== node.srcObject?.getAudioTracks()[0]) {
        node.remove();
        this.audios.delete(mid);
      }
    }
    for (const [mid, track] of audio) {
      if (this.audios.has(mid)) continue;
      const node = document.createElement("audio");
      node.autoplay = true;
      node.dataset.mid = mid;
      node.srcObject = new MediaStream([track]);
      this.audioBox.append(node);
      this.audios.set(mid, node);
      node.play().then(() => this.onSoundBlocked(false), () => this.onSoundBlocked(true));
    }
  }

  /** After a click or key on the page: play what the browser held back. */
  resumePlayback() {
    this.video.play?.().catch(() => {});
    const plays = [...this.audios.values()].map((node) => node.play());
    Promise.all(plays).then(() => this.onSoundBlocked(false), () => {});
  }
}
