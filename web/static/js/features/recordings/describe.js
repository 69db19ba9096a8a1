// What the recordings panel says about a recording's timeline entries and
// minutes, and which file a jump lands in. Pure functions: no DOM, no fetch.
//
// Shapes: docs/protocol.md "## Recording" (the view, its files, the
// timeline's entries, the minutes' `recording` links).

/** Entry types the panel lists; the rest (hands, tracks, floor control) only clutter. */
const LISTED = new Set([
  "state", "inquiry:topic_opened", "inquiry:topic_closed", "inquiry:report_started", "inquiry:granted",
  "inquiry:answer_started", "inquiry:follow_up", "inquiry:overtime", "vote:opened", "vote:result",
  "doc:shared", "doc:page", "roster", "recording:state",
]);

const STAGE_OF = {
  "inquiry:report_started": "report",
  "inquiry:granted": "question",
  "inquiry:answer_started": "answer",
  "inquiry:follow_up": "follow_up",
};

export const DESCRIBE_STRINGS = {
  "zh-CN": {
    "kind:report": "报告",
    "kind:question": "提问",
    "kind:answer": "答复",
    "kind:follow_up": "追问",
    "ev:start": "开始录制",
    "ev:stop": "停止录制",
    "ev:error": "录制出错：{reason}",
    "ev:topic": "议题：{topic}",
    "ev:topic_closed": "议题结束：{topic}",
    "ev:overtime": "超时：{who}",
    "ev:vote_opened": "表决开始：{subject}",
    "ev:vote_result": "表决结果：{subject}　{verdict}",
    "ev:doc_shared": "共享文件：{title}",
    "ev:doc_page": "翻页：{title} 第 {page} 页",
    "ev:joined": "加入：{names}",
    "ev:left": "离开：{names}",
    list_sep: "、",
    unknown: "（未知）",
    stage_line: "{stage}：{who}",
    who_at: "{name}（{site}）",
  },
  en: {
    "kind:report": "Report",
    "kind:question": "Question",
    "kind:answer": "Answer",
    "kind:follow_up": "Follow-up",
    "ev:start": "Recording started",
    "ev:stop": "Recording stopped",
    "ev:error": "Recording failed: {reason}",
    "ev:topic": "Topic: {topic}",
    "ev:topic_closed": "Topic closed: {topic}",
    "ev:overtime": "Over time: {who}",
    "ev:vote_opened": "Vote opened: {subject}",
    "ev:vote_result": "Vote result: {subject} — {verdict}",
    "ev:doc_shared": "Document shared: {title}",
    "ev:doc_page": "Page turned: {title}, page {page}",
    "ev:joined": "Joined: {names}",
    "ev:left": "Left: {names}",
    list_sep: ", ",
    unknown: "(unknown)",
    stage_line: "{stage}: {who}",
    who_at: "{name} ({site})",
  },
};

/** A person of the timeline or the minutes, with their site: 李委员（某某联络站）. */
export function personLabel(person, t) {
  if (!person) return t("unknown");
  const site = typeof person.site === "object" ? person.site?.name : person.site;
  const name = person.name || person.id || t("unknown");
  return site ? t("who_at", { name, site }) : name;
}

/** The readable lines of a timeline entry (several for a roster change), or [] to leave it out. */
export function describeEntry(entry, t) {
  if (!LISTED.has(entry.type)) return [];
  const stage = STAGE_OF[entry.type];
  if (stage) {
    const topic = entry.topic ? ` · ${entry.topic}` : "";
    return [t("stage_line", { stage: t(`kind:${stage}`), who: personLabel(entry.speaker, t) }) + topic];
  }
  const names = (people) => people.map((p) => personLabel(p, t)).join(t("list_sep"));
  switch (entry.type) {
    case "state":
      return [t("ev:start")];
    case "inquiry:topic_opened":
      return [t("ev:topic", { topic: entry.topic ?? "" })];
    case "inquiry:topic_closed":
      return [t("ev:topic_closed", { topic: entry.topic ?? "" })];
    case "inquiry:overtime":
      return [t("ev:overtime", { who: personLabel(entry.speaker, t) })];
    case "vote:opened":
      return [t("ev:vote_opened", { subject: entry.subject ?? "" })];
    case "vote:result":
      return [t("ev:vote_result", { subject: entry.subject ?? "", verdict: entry.verdict ?? "" })];
    case "doc:shared":
      return [t("ev:doc_shared", { title: entry.title ?? "" })];
    case "doc:page":
      return [t("ev:doc_page", { title: entry.title ?? "", page: entry.page ?? "" })];
    case "roster": {
      const lines = [];
      if (entry.joined?.length) lines.push(t("ev:joined", { names: names(entry.joined) }));
      if (entry.left?.length) lines.push(t("ev:left", { names: names(entry.left) }));
      return lines;
    }
    case "recording:state":
      if (entry.error) return [t("ev:error", { reason: entry.error.message ?? entry.error.code ?? "" })];
      return entry.recording ? [] : [t("ev:stop")];
    default:
      return [];
  }
}

/** Whose media a timeline entry is about: the speaker, else the one person it names. */
export function subjectOf(entry) {
  if (entry.speaker?.id) return entry.speaker.id;
  if (entry.participant?.id) return entry.participant.id;
  if (entry.type === "roster" && entry.joined?.length === 1) return entry.joined[0].id;
  return null;
}

export function isScreen(file) {
  return /-screen(-|\.)/.test(file.name);
}

/** Does the file hold the recording's instant `t` (seconds on the recording's clock)? */
export function covers(file, t) {
  if (file.kind !== "media" || file.state === "failed" || t < file.offset_s) return false;
  return file.duration_s == null || t <= file.offset_s + file.duration_s;
}

/**
 * Where a jump to the recording's instant `t` lands: the file of `participantId`
 * that covers it (a camera before a screen share, the latest segment), else
 * `current`, else the first media file covering it, else the first media file.
 * Returns {file, at} with `at` the time inside that file (never below 0).
 */
export function landing(files, t, participantId, current) {
  const media = files.filter((f) => f.kind === "media");
  const theirs = media
    .filter((f) => participantId && f.participant_id === participantId && covers(f, t))
    .sort((a, b) => Number(isScreen(a)) - Number(isScreen(b)) || b.segment - a.segment);
  const file = theirs[0] ?? current ?? media.find((f) => covers(f, t)) ?? media[0] ?? null;
  return { file, at: file ? Math.max(0, t - file.offset_s) : 0 };
}

/** 01:05 or 1:02:05 for a number of seconds. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds ?? 0));
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}
