/*
 * Connection quality: a small indicator in the top bar (good / fair / poor),
 * and audio only by itself when this page's video cannot get through.
 *
 * Every 2 s it reads getStats() of the media feature's two peer connections
 * (window.plenaryMedia.send / .recv): loss (the hub's receiver reports on
 * what we send, and the packets we miss of what we receive), round-trip time
 * of the selected candidate pairs and the browser's available outgoing
 * bitrate. While we send video and the uplink stays bad for BAD_SAMPLES in a
 * row (bitrate below 150 kbit/s or loss above 15 %), the video senders are
 * paused (plenaryMedia.setVideoSending(false): no video packets at all,
 * audio goes on) and the page says so; after GOOD_SAMPLES good ones in a row
 * (loss under 5 %, bitrate not under 150 kbit/s) the video is sent again
 * (the wait doubles when it had to fall back again within a minute of
 * coming back, so a borderline link does not flap).
 *
 * window.plenaryQuality.evaluate({loss, rtt, bitrate, sendLoss?}) feeds one
 * measurement (loss in %, rtt in ms, bitrate in bit/s; null = unknown) into
 * the same decision code; once it is used the page's own measurements no
 * longer decide (until .resume()), so a test drives it deterministically.
 */

const SAMPLE_MS = 2000;
const BAD_SAMPLES = 3; // ~6 s of a link that cannot carry video
const GOOD_SAMPLES = 3; // ~6 s of a good link before video comes back
const MAX_GOOD_SAMPLES = 30;
const FLAP_WINDOW_MS = 60000;
export const LIMITS = {
  minVideoBitrate: 150000, // bit/s available for sending: below it, video cannot get through
  maxVideoLoss: 15, // % lost of what we send
  restoreLoss: 5,
  // The hub's REMB never asks a publisher for less than 150 kbit/s (media/router.py REMB_MIN), and a
  // healthy loopback settles near 200: only the browser's own loss-based estimate goes lower.
  fair: { loss: 3, rtt: 250, bitrate: 180000 },
  poor: { loss: 10, rtt: 500, bitrate: 150000 },
};

const STYLE = `
.quality { display: inline-flex; align-items: center; gap: 6px; font-size: .9rem; white-space: nowrap; }
.quality-dot { width: 10px; height: 10px; border-radius: 50%; background: #9ca3af; flex: none; }
.quality[data-level="good"] .quality-dot { background: var(--ok, #15803d); }
.quality[data-level="fair"] .quality-dot { background: var(--warn, #b45309); }
.quality[data-level="poor"] .quality-dot { background: var(--danger, #b91c1c); }
.quality-audio { background: #fef3c7; color: #78350f; border-radius: 4px; padding: 0 6px; }
.quality-audio[hidden] { display: none; }
`;

/** good / fair / poor / unknown from one measurement. */
export function levelOf({ loss, rtt, bitrate }) {
  const known = [loss, rtt, bitrate].some((v) => v != null);
  if (!known) return "unknown";
  const over = (limits) =>
    (loss != null && loss >= limits.loss) || (rtt != null && rtt >= limits.rtt) ||
    (bitrate != null && bitrate < limits.bitrate);
  if (over(LIMITS.poor)) return "poor";
  if (over(LIMITS.fair)) return "fair";
  return "good";
}

/** Figures of one getStats() report: {rtt (ms), bitrate (bit/s), sentLoss (%), lost, received}. */
function readReport(report) {
  const out = { rtt: null, bitrate: null, sentLoss: null, lost: 0, received: 0 };
  const pairs = [];
  report.forEach((r) => {
    if (r.type === "transport" && r.selectedCandidatePairId) pairs.push(report.get(r.selectedCandidatePairId));
    if (r.type === "remote-inbound-rtp" && typeof r.fractionLost === "number") {
      out.sentLoss = Math.max(out.sentLoss ?? 0, r.fractionLost * 100);
    }
    if (r.type === "inbound-rtp") {
      out.lost += Math.max(0, r.packetsLost || 0);
      out.received += r.packetsReceived || 0;
    }
  });
  if (!pairs.length) report.forEach((r) => r.type === "candidate-pair" && r.nominated && r.state === "succeeded" && pairs.push(r));
  for (const pair of pairs) {
    if (!pair) continue;
    if (typeof pair.currentRoundTripTime === "number") out.rtt = Math.max(out.rtt ?? 0, pair.currentRoundTripTime * 1000);
    if (typeof pair.availableOutgoingBitrate === "number") out.bitrate = pair.availableOutgoingBitrate;
  }
  return out;
}

class Quality {
  constructor(ctx) {
    this.ctx = ctx;
    this.level = "unknown";
    this.sample = { loss: null, rtt: null, bitrate: null };
    this.bad = 0;
    this.good = 0;
    this.audioOnly = false;
    this.restoreAfter = GOOD_SAMPLES;
    this.restoredAt = 0;
    this.manual = false;
    this.lastRecv = null; // {lost, received} of the previous sample
    this.timer = null;
  }

  mount() {
    if (!document.getElementById("quality-style")) {
      const style = document.createElement("style");
      style.id = "quality-style";
      style.textContent = STYLE;
      document.head.append(style);
    }
    const root = document.createElement("span");
    root.className = "quality";
    root.id = "quality";
    root.dataset.feature = "quality";
    root.setAttribute("role", "status");
    root.innerHTML = `<span class="quality-dot" aria-hidden="true"></span><span class="quality-text"></span>` +
      `<span class="quality-audio" hidden></span>`;
    const tools = document.querySelector(".topbar-tools");
    if (tools) tools.prepend(root);
    else this.ctx.panel("quality", "title").append(root);
    this.root = root;
    this.render();
    this.timer = setInterval(() => this.tick(), SAMPLE_MS);
    window.addEventListener("pagehide", () => clearInterval(this.timer));
    window.plenaryQuality = {
      evaluate: (sample) => {
        this.manual = true;
        return this.evaluate(sample);
      },
      resume: () => {
        this.manual = false;
      },
      get level() {
        return window.plenaryQuality._q.level;
      },
      get audioOnly() {
        return window.plenaryQuality._q.audioOnly;
      },
      _q: this,
    };
  }

  async measure() {
    const media = window.plenaryMedia;
    if (!media) return null;
    const sample = { loss: null, sendLoss: null, rtt: null, bitrate: null };
    if (media.send && media.send.connectionState !== "closed") {
      const r = readReport(await media.send.getStats());
      sample.rtt = r.rtt;
      sample.bitrate = r.bitrate;
      sample.sendLoss = r.sentLoss;
    }
    if (media.recv && media.recv.connectionState !== "closed") {
      const r = readReport(await media.recv.getStats());
      if (r.rtt != null) sample.rtt = Math.max(sample.rtt ?? 0, r.rtt);
      const last = this.lastRecv;
      this.lastRecv = { lost: r.lost, received: r.received };
      if (last && r.received >= last.received) {
        const lost = Math.max(0, r.lost - last.lost);
        const got = r.received - last.received;
        if (lost + got > 0) sample.loss = (100 * lost) / (lost + got);
      }
    } else {
      this.lastRecv = null;
    }
    if (sample.sendLoss != null) sample.loss = Math.max(sample.loss ?? 0, sample.sendLoss);
    return sample;
  }

  async tick() {
    let sample;
    try {
      sample = await this.measure();
    } catch (err) {
      console.error("quality: getStats failed", err);
      return;
    }
    if (this.manual || !sample) return;
    this.evaluate(sample);
  }

  /** One measurement through the decision; returns {level, audioOnly}. */
  evaluate(sample) {
    const s = { loss: sample.loss ?? null, rtt: sample.rtt ?? null, bitrate: sample.bitrate ?? null };
    this.sample = s;
    const media = window.plenaryMedia;
    // The media feature holds the truth: a camera stopped and started again sends video.
    this.audioOnly = !!media?.videoPaused;
    const sendingVideo = !!media?.hasVideoToSend?.();
    // The bitrate only matters when we send (it is the send side's estimate).
    this.level = levelOf({ ...s, bitrate: sendingVideo ? s.bitrate : null });
    const upLoss = sample.sendLoss ?? s.loss;
    const cannotCarry = (s.bitrate != null && s.bitrate < LIMITS.minVideoBitrate) ||
      (upLoss != null && upLoss > LIMITS.maxVideoLoss);
    // Coming back asks for little loss only: while only audio is sent, the
    // bandwidth estimate has little traffic to grow on (flapping is held
    // off by the doubling wait instead).
    const canCarry = !cannotCarry && (upLoss == null || upLoss < LIMITS.restoreLoss);
    this.bad = cannotCarry ? this.bad + 1 : 0;
    this.good = canCarry ? this.good + 1 : 0;
    if (!this.audioOnly && sendingVideo && this.bad >= BAD_SAMPLES) {
      this.fallBack();
    } else if (this.audioOnly && this.good >= this.restoreAfter) {
      this.restore();
    }
    this.render();
    return { level: this.level, audioOnly: this.audioOnly };
  }

  fallBack() {
    // Falling back again soon after coming back: wait longer before the next try.
    this.restoreAfter = Date.now() - this.restoredAt < FLAP_WINDOW_MS
      ? Math.min(this.restoreAfter * 2, MAX_GOOD_SAMPLES) : GOOD_SAMPLES;
    this.audioOnly = true;
    this.good = 0;
    window.plenaryMedia?.setVideoSending?.(false);
    this.ctx.toast(this.ctx.t("audio_only_notice"), { kind: "error" });
  }

  restore() {
    this.audioOnly = false;
    this.bad = 0;
    this.restoredAt = Date.now();
    window.plenaryMedia?.setVideoSending?.(true);
    this.ctx.toast(this.ctx.t("video_back"), { kind: "info" });
  }

  render() {
    if (!this.root) return;
    const { ctx } = this;
    const s = this.sample;
    this.root.dataset.level = this.level;
    this.root.dataset.audioOnly = String(this.audioOnly);
    const word = ctx.t(`level_${this.level}`);
    this.root.querySelector(".quality-text").textContent = word;
    const audio = this.root.querySelector(".quality-audio");
    audio.hidden = !this.audioOnly;
    audio.textContent = ctx.t("audio_only");
    const figures = [];
    if (s.loss != null) figures.push(ctx.t("fig_loss", { loss: s.loss.toFixed(s.loss < 10 ? 1 : 0) }));
    if (s.rtt != null) figures.push(ctx.t("fig_rtt", { rtt: Math.round(s.rtt) }));
    if (s.bitrate != null) figures.push(ctx.t("fig_bitrate", { kbps: Math.round(s.bitrate / 1000) }));
    const label = ctx.t("label", {
      level: word,
      audio: this.audioOnly ? ctx.t("label_audio_only") : "",
      figures: figures.length ? ctx.t("label_figures", { figures: figures.join(ctx.t("list_sep")) }) : "",
    });
    this.root.setAttribute("aria-label", label);
    this.root.title = label;
  }
}

let quality = null;

export default {
  id: "quality",
  order: 5,
  strings: {
    "zh-CN": {
      title: "网络质量",
      label: "{level}{audio}{figures}",
      label_audio_only: "，视频无法传送，已切换为仅音频",
      label_figures: "（{figures}）",
      list_sep: "，",
      fig_loss: "丢包 {loss}%",
      fig_rtt: "往返时延 {rtt} 毫秒",
      fig_bitrate: "可用上行 {kbps} kbit/s",
      level_good: "网络良好",
      level_fair: "网络一般",
      level_poor: "网络较差",
      level_unknown: "网络检测中",
      audio_only: "仅音频",
      audio_only_notice: "网络较差，视频无法传送，已自动切换为仅音频",
      video_back: "网络已恢复，视频已重新开启",
    },
    en: {
      title: "Connection quality",
      label: "{level}{audio}{figures}",
      label_audio_only: ": video cannot get through, audio only",
      label_figures: " ({figures})",
      list_sep: ", ",
      fig_loss: "loss {loss}%",
      fig_rtt: "round trip {rtt} ms",
      fig_bitrate: "available upload {kbps} kbit/s",
      level_good: "Good connection",
      level_fair: "Fair connection",
      level_poor: "Poor connection",
      level_unknown: "Checking connection",
      audio_only: "Audio only",
      audio_only_notice: "Poor connection: video cannot get through, switched to audio only",
      video_back: "Connection recovered: video is back on",
    },
  },
  mount(ctx) {
    quality = new Quality(ctx);
    quality.mount();
  },
  onLanguage() {
    quality?.render();
  },
};
