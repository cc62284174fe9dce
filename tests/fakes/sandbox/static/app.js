// The reewatch sandbox page: polls /sandbox/state, renders Slack messages from Block Kit, and sends
// commands and button clicks back through the stand-in as signed Slack requests to the bot.
"use strict";

const EMOJI = {
  rotating_light: "🚨", red_circle: "🔴", large_orange_circle: "🟠", orange_circle: "🟠",
  large_yellow_circle: "🟡", yellow_circle: "🟡", white_circle: "⚪", large_green_circle: "🟢",
  green_circle: "🟢", large_blue_circle: "🔵", warning: "⚠️", white_check_mark: "✅", heavy_check_mark: "✔️",
  bell: "🔔", pager: "📟", fire: "🔥", eyes: "👀", x: "❌", newspaper: "📰", link: "🔗", memo: "📝",
  chart_with_upwards_trend: "📈", chart_with_downwards_trend: "📉", arrow_up: "⬆️", arrow_down: "⬇️",
  small_red_triangle: "🔺", small_red_triangle_down: "🔻", information_source: "ℹ️", speech_balloon: "💬",
  thread: "🧵", globe_with_meridians: "🌐", cn: "🇨🇳", flag_cn: "🇨🇳", calendar: "📅", clock3: "🕒",
  hourglass: "⌛", hourglass_flowing_sand: "⏳", mag: "🔍", satellite_antenna: "📡", no_entry: "⛔",
  scales: "⚖️", package: "📦", factory: "🏭", magnet: "🧲", page_facing_up: "📄", busts_in_silhouette: "👥",
  bust_in_silhouette: "👤", sos: "🆘", arrows_counterclockwise: "🔄", zzz: "💤", tada: "🎉", muscle: "💪",
  large_red_square: "🟥", large_orange_square: "🟧", large_yellow_square: "🟨", large_green_square: "🟩",
  white_large_square: "⬜", black_circle: "⚫", heavy_minus_sign: "➖", arrow_right: "➡️", loudspeaker: "📢",
};
const SEVERITIES = ["critical", "high", "elevated", "easing", "info"];
// The badges core/blocks.py puts in front of a headline.
const BADGE_SEVERITY = { ":red_circle:": "critical", ":large_orange_circle:": "high", ":large_yellow_circle:": "elevated",
  ":large_green_circle:": "easing", ":white_circle:": "info" };
const COLOR_SEVERITY = { "#d0021b": "critical", "#e8700a": "high", "#e0b000": "elevated", "#2eb67d": "easing" };

const ui = {
  user: null, view: "channel", channel: null, thread: null, version: null, state: null,
  seen: {}, sending: false,
};
const $ = (id) => document.getElementById(id);

function esc(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
function unslack(s) { return String(s).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&"); }
function emoji(s) { return s.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m); }
function userName(id) {
  const u = (ui.state && ui.state.users || []).find((x) => x.id === id);
  return u ? u.real_name : id;
}

// Slack mrkdwn -> safe HTML: <...> tokens become placeholders, the rest is escaped, then formatted.
function mrkdwn(text) {
  const tokens = [];
  let s = String(text || "").replace(/<([^<>]+)>/g, (m, inner) => {
    tokens.push(token(inner));
    return "\u0001" + (tokens.length - 1) + "\u0002";
  });
  s = esc(unslack(s));
  s = s.replace(/```([\s\S]+?)```/g, (m, code) => "<pre>" + code + "</pre>");
  s = s.replace(/`([^`\n]+)`/g, "<code>$1</code>");
  s = s.replace(/(^|[\s(\u0002])\*([^*\n]+)\*(?=$|[\s.,;:!?)\u0001])/gm, "$1<b>$2</b>");
  s = s.replace(/(^|[\s(\u0002])_([^_\n]+)_(?=$|[\s.,;:!?)\u0001])/gm, "$1<i>$2</i>");
  s = s.replace(/(^|[\s(\u0002])~([^~\n]+)~(?=$|[\s.,;:!?)\u0001])/gm, "$1<s>$2</s>");
  s = s.split("\n").map((line) => line.startsWith("&gt; ") ? "<blockquote>" + line.slice(5) + "</blockquote>" : line)
    .join("\n").replace(/\n(?!<\/?blockquote)/g, "<br>");
  s = emoji(s);
  return s.replace(/\u0001(\d+)\u0002/g, (m, i) => tokens[Number(i)]);
}

function token(inner) {
  const [target, label] = inner.split("|", 2);
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return `<span class="mention${id === ui.user ? " me" : ""}">@${esc(label || userName(id))}</span>`;
  }
  if (target.startsWith("!date^")) {  // <!date^EPOCH^{time}|fallback>: shown in the reader's own time zone
    const when = new Date(Number(target.split("^")[1]) * 1000);
    return isNaN(when) ? esc(unslack(label || "")) : esc(when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  }
  if (target.startsWith("!subteam^")) return `<span class="mention">@${esc(label || target.slice(9))}</span>`;
  if (target.startsWith("!")) return `<span class="mention me">@${esc(target.slice(1).split("^")[0])}</span>`;
  if (target.startsWith("#")) return `<span class="chan">#${esc(label || target.slice(1))}</span>`;
  if (/^(https?:|mailto:)/.test(target)) {
    return `<a href="${esc(unslack(target))}" target="_blank" rel="noopener noreferrer">${esc(unslack(label || target))}</a>`;
  }
  return esc("<" + unslack(inner) + ">");
}

function textObj(t) {
  if (!t) return "";
  return t.type === "mrkdwn" ? mrkdwn(t.text) : emoji(esc(t.text || ""));
}

function el(tag, cls, html) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (html !== undefined) e.innerHTML = html;
  return e;
}

function button(b, ctx, blockId) {
  const btn = el("button", "btn" + (b.style ? " " + b.style : ""), textObj(b.text));
  btn.type = "button";
  btn.dataset.actionId = b.action_id || "";
  btn.addEventListener("click", async () => {
    if (b.confirm && !window.confirm(`${(b.confirm.title || {}).text || "Are you sure?"}\n${(b.confirm.text || {}).text || ""}`)) return;
    if (b.url) window.open(b.url, "_blank", "noopener");
    btn.disabled = true;
    try {
      await post("/sandbox/action", { user: ui.user, channel: ctx.channel || "", ts: ctx.ts || "", view: ctx.view || "",
        action_id: b.action_id || "", block_id: blockId || "", value: b.value, text: (b.text || {}).text || "" });
    } finally { btn.disabled = false; refresh(true); }
  });
  return btn;
}

function element(e, ctx, blockId) {
  if (!e) return null;
  if (e.type === "button") return button(e, ctx, blockId);
  if (e.type === "image") { const i = el("img"); i.src = e.image_url; i.alt = e.alt_text || ""; i.width = 64; return i; }
  if (e.type === "overflow" || e.type === "static_select") {
    const sel = el("select"); sel.disabled = true;
    (e.options || []).forEach((o) => sel.appendChild(el("option", "", textObj(o.text))));
    return sel;
  }
  return el("span", "", textObj(e.text || e.placeholder));
}

function richText(block) {
  const wrap = el("div", "blk-rich");
  for (const part of block.elements || []) {
    const html = (part.elements || []).map((x) => {
      if (x.type === "link") return `<a href="${esc(x.url)}" target="_blank" rel="noopener">${esc(x.text || x.url)}</a>`;
      if (x.type === "emoji") return EMOJI[x.name] || `:${esc(x.name)}:`;
      if (x.type === "user") return `<span class="mention">@${esc(userName(x.user_id))}</span>`;
      const t = esc(x.text || "");
      return x.style && x.style.bold ? `<b>${t}</b>` : t;
    }).join("");
    wrap.appendChild(el(part.type === "rich_text_quote" ? "blockquote" : "div", "", html.replace(/\n/g, "<br>")));
  }
  return wrap;
}

function renderBlocks(blocks, ctx) {
  const out = el("div", "blocks");
  for (const b of blocks || []) {
    let node = null;
    if (b.type === "header") node = el("div", "blk-header", textObj(b.text));
    else if (b.type === "divider") node = el("hr", "blk-divider");
    else if (b.type === "section") {
      node = el("div", "blk-section");
      const txt = el("div", "txt", b.text ? textObj(b.text) : "");
      if (b.fields) {
        const f = el("div", "fields");
        b.fields.forEach((x) => f.appendChild(el("div", "", textObj(x))));
        txt.appendChild(f);
      }
      node.appendChild(txt);
      const acc = element(b.accessory, ctx, b.block_id);
      if (acc) node.appendChild(acc);
    } else if (b.type === "context") {
      node = el("div", "blk-context");
      (b.elements || []).forEach((x) => node.appendChild(x.type === "image" ? element(x, ctx) : el("span", "", textObj(x))));
    } else if (b.type === "actions") {
      node = el("div", "blk-actions");
      (b.elements || []).forEach((x) => node.appendChild(element(x, ctx, b.block_id)));
    } else if (b.type === "image") {
      node = el("img"); node.src = b.image_url; node.alt = b.alt_text || ""; node.style.maxWidth = "360px";
    } else if (b.type === "rich_text") node = richText(b);
    else if (b.type === "input") node = el("div", "blk-context", textObj(b.label));
    if (node) { if (b.block_id) node.dataset.blockId = b.block_id; out.appendChild(node); }
  }
  return out;
}

// Severity: an attachment colour when there is one, else the first severity word in a header or context.
function severityOf(m) {
  for (const a of m.attachments || []) {
    const c = String(a.color || "").toLowerCase();
    if (COLOR_SEVERITY[c]) return COLOR_SEVERITY[c];
  }
  const words = [];
  const blocks = m.blocks || [];
  for (const b of blocks) {
    if (b.type === "header" && b.text) words.push(b.text.text);
    if (b.type === "context") (b.elements || []).forEach((x) => words.push(x.text || ""));
  }
  const first = blocks.find((b) => b.type === "section" && b.text);
  const hay = [first ? first.text.text : "", ...words].join(" ").toLowerCase();
  const badge = Object.keys(BADGE_SEVERITY).find((code) => hay.includes(code));
  if (badge) return BADGE_SEVERITY[badge];
  let best = null, at = Infinity;  // the severity word that comes first: "status: normal → elevated (high story)"
  for (const sev of SEVERITIES) {
    const m = new RegExp("\\b" + sev + "\\b").exec(hay);
    if (m && m.index < at) { best = sev; at = m.index; }
  }
  return best;
}

function renderMessage(m, channel, inThread) {
  const row = el("div", "msg" + (m.ephemeral ? " ephemeral" : ""));
  row.dataset.ts = m.ts;
  const isUser = m.author && m.author !== "bot";
  row.appendChild(el("div", "avatar" + (isUser ? " user" : ""), isUser ? esc(userName(m.author).slice(0, 2)) : "RW"));
  const col = el("div", "");
  const when = new Date(Number(m.ts) * 1000).toLocaleTimeString();
  col.appendChild(el("div", "meta", isUser ? `<b>${esc(userName(m.author))}</b>${when}`
    : `<b>reewatch</b><span class="app-tag">APP</span>${when}${m.edited ? '<span class="edited">(edited)</span>' : ""}`));
  if (m.ephemeral) col.appendChild(el("div", "eph-note", "👁 Only visible to you"));
  const sev = severityOf(m);
  const body = el("div", "body" + (sev ? " sev-" + sev : ""));
  if (sev) body.dataset.severity = sev;
  const ctx = { channel: channel, ts: m.ts };
  if (m.blocks && m.blocks.length) body.appendChild(renderBlocks(m.blocks, ctx));
  else body.appendChild(el("div", "txt", mrkdwn(m.text)));
  for (const a of m.attachments || []) {
    const att = el("div", "attachment");
    if (a.color) att.style.borderLeftColor = a.color;
    if (a.blocks) att.appendChild(renderBlocks(a.blocks, ctx));
    else att.appendChild(el("div", "", mrkdwn(a.text || a.fallback || "")));
    body.appendChild(att);
  }
  col.appendChild(body);
  const replies = (m.replies || []).length;
  if (!inThread && replies) {
    const link = el("button", "thread-link", `🧵 ${replies} ${replies === 1 ? "reply" : "replies"}`);
    link.type = "button";
    link.addEventListener("click", () => { ui.thread = { channel: channel, ts: m.ts }; render(); });
    col.appendChild(link);
  }
  row.appendChild(col);
  return row;
}

function currentChannel() {
  return (ui.state.channels || []).find((c) => c.id === ui.channel) || (ui.state.channels || [])[0];
}

function renderSidebar() {
  const chans = $("channel-list"), dms = $("dm-list");
  chans.innerHTML = ""; dms.innerHTML = "";
  for (const c of ui.state.channels) {
    const count = c.messages.reduce((n, m) => n + 1 + (m.replies || []).length, 0);
    const unread = Math.max(0, count - (ui.seen[c.id] || 0));
    const label = c.kind === "dm" ? "💬 " + esc(c.name) : "# " + esc(c.name);
    const b = el("button", "nav" + (ui.view === "channel" && c.id === ui.channel ? " active" : ""),
      `<span>${label}</span>${unread && c.id !== ui.channel ? `<span class="badge">${unread}</span>` : ""}`);
    b.type = "button"; b.dataset.channel = c.id;
    b.addEventListener("click", () => { ui.view = "channel"; ui.channel = c.id; ui.thread = null; render(); });
    const li = el("li"); li.appendChild(b); (c.kind === "dm" ? dms : chans).appendChild(li);
  }
  $("nav-home").classList.toggle("active", ui.view === "home");
}

function renderChannel() {
  const c = currentChannel();
  const box = $("messages");
  $("home").hidden = true; box.hidden = false; $("composer").hidden = false;
  if (!c) { box.innerHTML = '<div class="empty">Waiting for the bot…</div>'; return; }
  ui.channel = c.id;
  $("pane-title").textContent = c.kind === "dm" ? c.name : "#" + c.name;
  $("pane-sub").textContent = c.kind === "dm" ? "direct messages with reewatch" : c.id;
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const before = new Set([...box.querySelectorAll(".msg")].map((n) => n.dataset.ts));
  box.innerHTML = "";
  if (!c.messages.length) box.appendChild(el("div", "empty", "No messages yet. Stories arrive as the sample feeds publish them."));
  for (const m of c.messages) {
    const node = renderMessage(m, c.id, false);
    if (before.size && !before.has(m.ts)) node.classList.add("flash");
    box.appendChild(node);
  }
  ui.seen[c.id] = c.messages.reduce((n, m) => n + 1 + (m.replies || []).length, 0);
  if (atBottom || !before.size) box.scrollTop = box.scrollHeight;
}

function renderThread() {
  const pane = $("thread"), body = $("thread-body");
  if (!ui.thread) { pane.hidden = true; return; }
  const c = (ui.state.channels || []).find((x) => x.id === ui.thread.channel);
  const m = c && c.messages.find((x) => x.ts === ui.thread.ts);
  if (!m) { pane.hidden = true; return; }
  pane.hidden = false; body.innerHTML = "";
  body.appendChild(renderMessage(m, c.id, true));
  body.appendChild(el("div", "reply-sep", `${m.replies.length} ${m.replies.length === 1 ? "reply" : "replies"}`));
  m.replies.forEach((r) => body.appendChild(renderMessage(r, c.id, true)));
}

function renderHome() {
  $("messages").hidden = true; $("composer").hidden = true;
  const box = $("home"); box.hidden = false; box.innerHTML = "";
  $("pane-title").textContent = "reewatch"; $("pane-sub").textContent = "App Home";
  const card = el("div", "home-card");
  if (ui.state.home) card.appendChild(renderBlocks(ui.state.home.blocks, { view: "home" }));
  else card.appendChild(el("div", "empty", "Opening the App Home…"));
  box.appendChild(card);
}

function render() {
  if (!ui.state || !ui.state.channels) return;
  renderSidebar();
  if (ui.view === "home") { renderHome(); $("thread").hidden = true; } else { renderChannel(); renderThread(); }
}

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return r.json();
}

async function refresh(force) {
  try {
    const since = force || ui.version === null ? "" : `&since=${ui.version}`;
    const r = await fetch(`/sandbox/state?user=${encodeURIComponent(ui.user || "")}${since}`, { cache: "no-store" });
    const s = await r.json();
    $("conn").textContent = "live · updated " + new Date().toLocaleTimeString();
    if (s.channels) {
      ui.state = s;
      if (!ui.user && s.users.length) {  // first answer: act as the first user, then ask again as them
        ui.user = s.users[0].id; fillUsers(); ui.version = null;
        return refresh(true);
      }
      render();
    }
    ui.version = s.version;
  } catch (e) {
    $("conn").textContent = "stand-in not answering (demo stopped?)";
  }
}

function fillUsers() {
  const sel = $("user-select");
  sel.innerHTML = "";
  for (const u of ui.state.users) {
    const o = el("option", "", esc(`${u.real_name}${u.title ? " – " + u.title : ""}`));
    o.value = u.id; sel.appendChild(o);
  }
  sel.value = ui.user;
}

$("user-select").addEventListener("change", (e) => {
  ui.user = e.target.value; ui.version = null;
  if (ui.view === "home") post("/sandbox/home", { user: ui.user });
  refresh(true);
});
$("nav-home").addEventListener("click", async () => {
  ui.view = "home"; render();
  await post("/sandbox/home", { user: ui.user });
  refresh(true);
});
$("thread-close").addEventListener("click", () => { ui.thread = null; render(); });
$("composer").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("command-input");
  const text = input.value.trim();
  if (!text || ui.sending) return;
  ui.sending = true; $("command-send").disabled = true;
  try {
    await post("/sandbox/command", { user: ui.user, channel: ui.channel, text: text });
    input.value = "";
  } finally { ui.sending = false; $("command-send").disabled = false; refresh(true); }
});

refresh(true);
setInterval(() => refresh(false), 700);
