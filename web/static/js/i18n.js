// Languages of the shell: zh-CN first, English on a switch that is
// remembered per browser. Feature modules bring their own strings; the shell
// keeps one table per module so two modules may use the same key safely.

export const LANGUAGES = ["zh-CN", "en"];
const DEFAULT_LANGUAGE = "zh-CN";
const STORAGE_KEY = "plenary.lang";

export const SHELL_STRINGS = {
  "zh-CN": {
    app_name: "人大会议与专题询问",
    joining: "正在进入会议…",
    you: "（本人）",
    roster: "参会人员",
    online_of: "{online}/{total} 在线",
    online: "在线",
    offline: "离线",
    show_roster: "展开名单",
    hide_roster: "收起名单",
    empty_roster: "暂无参会人员",
    waiting_hint: "会议内容将在这里显示。",
    status_connecting: "正在连接…",
    status_online: "已连接",
    status_reconnecting: "连接中断，正在重连…",
    status_offline: "已断开",
    refused_title: "无法进入会议",
    refused_reason: "服务器说明：{reason}",
    refused_advice: "请向会务工作人员索取新的会议链接。",
    no_token: "缺少会议链接。请使用会务工作人员发送的邀请链接打开本页。",
    no_client: "页面组件缺失（socket.io），请联系管理员重新安装 Plenary。",
    sync_failed: "同步会议状态失败：{reason}",
    feature_failed: "功能模块加载失败：{name}",
    kicked: "服务器已断开本次连接。",
    reconnect: "重新连接",
    language: "语言",
    "reason:token expired": "会议链接已过期",
    "reason:missing token": "缺少会议链接",
    "reason:token signature is invalid": "会议链接无效",
    "reason:token is invalid": "会议链接无效",
    "reason:token is for another meeting": "该链接属于另一场会议",
    "reason:token names no participant of this hub": "该链接对应的参会人员不存在",
    "reason:token's role no longer matches the participant": "参会身份已变更，链接失效",
    "role:chair": "主持人",
    "role:clerk": "工作人员",
    "role:member": "委员",
    "role:deputy": "代表",
    "role:respondent": "答询部门",
    "role:observer": "列席",
    "role:admin": "管理员",
    "group:city": "市级",
    "group:district": "区级",
    "group:township": "乡镇",
    "group:station": "代表联络站",
    "group:department": "政府部门",
    "group:none": "未指定",
    "meeting:scheduled": "未开始",
    "meeting:open": "进行中",
    "meeting:live": "进行中",
    "meeting:closed": "已结束",
  },
  en: {
    app_name: "Congress meetings and inquiries",
    joining: "Joining the meeting…",
    you: "(you)",
    roster: "Participants",
    online_of: "{online}/{total} online",
    online: "online",
    offline: "offline",
    show_roster: "Show list",
    hide_roster: "Hide list",
    empty_roster: "No participants yet",
    waiting_hint: "The meeting's content appears here.",
    status_connecting: "Connecting…",
    status_online: "Connected",
    status_reconnecting: "Connection lost, reconnecting…",
    status_offline: "Disconnected",
    refused_title: "Cannot join the meeting",
    refused_reason: "The server says: {reason}",
    refused_advice: "Please ask the meeting staff for a new join link.",
    no_token: "No join link. Please open this page with the invitation link the meeting staff sent you.",
    no_client: "A part of this page is missing (socket.io); ask the administrator to reinstall Plenary.",
    sync_failed: "Could not load the meeting's state: {reason}",
    feature_failed: "A feature could not be loaded: {name}",
    kicked: "The server ended this connection.",
    reconnect: "Reconnect",
    language: "Language",
    "reason:token expired": "The join link has expired",
    "reason:missing token": "The join link is missing",
    "reason:token signature is invalid": "The join link is not valid",
    "reason:token is invalid": "The join link is not valid",
    "reason:token is for another meeting": "The link is for another meeting",
    "reason:token names no participant of this hub": "The link names no participant",
    "reason:token's role no longer matches the participant": "Your role changed; the link no longer works",
    "role:chair": "Chair",
    "role:clerk": "Clerk",
    "role:member": "Member",
    "role:deputy": "Deputy",
    "role:respondent": "Respondent",
    "role:observer": "Observer",
    "role:admin": "Administrator",
    "group:city": "City",
    "group:district": "District",
    "group:township": "Township",
    "group:station": "Liaison station",
    "group:department": "Government department",
    "group:none": "Unassigned",
    "meeting:scheduled": "Not started",
    "meeting:open": "In progress",
    "meeting:live": "In progress",
    "meeting:closed": "Ended",
  },
};

function fill(text, vars) {
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

function storedLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(saved) ? saved : DEFAULT_LANGUAGE;
  } catch {
    return DEFAULT_LANGUAGE; // storage can be blocked; the default still works
  }
}

export class I18n {
  constructor() {
    this.lang = storedLanguage();
    this.listeners = new Set();
  }

  /** A translator over `tables` (most specific first), falling back to the shell's strings. */
  translator(tables = []) {
    const all = [...tables, SHELL_STRINGS];
    return (key, vars) => {
      for (const lang of [this.lang, DEFAULT_LANGUAGE]) {
        for (const table of all) {
          const text = table?.[lang]?.[key];
          if (typeof text === "string") return fill(text, vars);
        }
      }
      return fill(String(key), vars);
    };
  }

  has(tables, key) {
    return tables.some((table) => LANGUAGES.some((lang) => typeof table?.[lang]?.[key] === "string"));
  }

  setLanguage(lang) {
    if (!LANGUAGES.includes(lang) || lang === this.lang) return;
    this.lang = lang;
    try {
      localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      /* not remembered, still switched */
    }
    for (const listener of this.listeners) listener(lang);
  }

  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Re-label every `[data-t]` element under `root` (skipping nested feature roots when asked). */
export function relabel(root, t, { skipFeatures = false } = {}) {
  for (const el of root.querySelectorAll("[data-t]")) {
    if (skipFeatures && el.closest("[data-feature]")) continue;
    el.textContent = t(el.dataset.t);
  }
}
