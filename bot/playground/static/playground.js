// The playground page: draws what the stand-in for Slack holds for the chosen person, from the bot's own
// Block Kit, and turns clicks and typing into calls to the playground server, which signs them as Slack would.
// Every text from the bot, DDM or a person goes through esc() or textContent before it meets the DOM.
"use strict";

const state = {
  dir: null, // people, users, groups, channels (GET /api/directory)
  me: localStorage.getItem("playground.me") || "UALICE",
  snap: null, // GET /api/state for `me`
  thread: null, // ts of the card whose thread is open
  forms: {}, // view_id -> {block_id: {action_id: state value}}: what the person typed, kept across redraws
  drawn: {}, // part -> the JSON last drawn, so polling redraws only what changed (and keeps focus)
  dismissed: new Set(), // ephemerals the person dismissed
  toBottom: true, // show the newest message at the next draw (at start, after a switch of person or a command)
  tab: "channel", // "channel" (#ops) or "home" (the app's Home tab)
};

// ---- small helpers ------------------------------------------------------------------------------------------

function esc(text) {
  const map = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  return String(text ?? "").replace(/[&<>"']/g, (c) => map[c]);
}

// Slack escapes &, < and > in message text; undo that before escaping for HTML.
function unslack(text) {
  return String(text ?? "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "html") node.innerHTML = value; // only ever given output of mrkdwn()/esc()
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, body) {
  const answer = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: state.me, ...body }),
  });
  const data = await answer.json().catch(() => ({ ok: false, error: `HTTP ${answer.status}` }));
  if (!data.ok) toast(data.error || "the bot did not answer");
  if (data.notice) toast(data.notice);
  setTimeout(poll, 60); // the bot answers Slack first and acts a moment later
  return data;
}

function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 4000);
}

function person(id) {
  return state.dir.people.find((p) => p.id === id);
}

function myZone() {
  return person(state.me)?.tz || "UTC";
}

// ---- time in the viewer's zone (Slack's <!date^…> and the datetimepicker) -----------------------------------

function zoneOffsetMs(epochMs, zone) {
  const parts = {};
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  for (const p of fmt.formatToParts(new Date(epochMs))) parts[p.type] = p.value;
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}

function wallToEpoch(wall, zone) {
  // "2026-11-27T09:12" read in `zone` -> epoch seconds
  const [date, time] = wall.split("T");
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  let epoch = guess - zoneOffsetMs(guess, zone);
  epoch = guess - zoneOffsetMs(epoch, zone); // the offset on the other side of a DST change
  return Math.floor(epoch / 1000);
}

function epochToWall(seconds, zone) {
  const shifted = new Date(seconds * 1000 + zoneOffsetMs(seconds * 1000, zone));
  return shifted.toISOString().slice(0, 16);
}

function slackDate(epoch, format, fallback) {
  const when = new Date(epoch * 1000);
  const zone = myZone();
  const f = (opts) => new Intl.DateTimeFormat("en-US", { timeZone: zone, ...opts }).format(when);
  const dayKey = (d) => new Intl.DateTimeFormat("en-CA", { timeZone: zone }).format(d);
  const relative = (fallbackText) => {
    const day = 86400000;
    const now = Date.now();
    if (dayKey(when) === dayKey(new Date(now))) return "Today";
    if (dayKey(when) === dayKey(new Date(now - day))) return "Yesterday";
    if (dayKey(when) === dayKey(new Date(now + day))) return "Tomorrow";
    return fallbackText;
  };
  const long = f({ weekday: "long", month: "long", day: "numeric", year: "numeric" });
  const plain = f({ month: "long", day: "numeric", year: "numeric" });
  const short = f({ month: "short", day: "numeric", year: "numeric" });
  const minutes = Math.round((Date.now() - when.getTime()) / 60000);
  const tokens = {
    date_num: dayKey(when),
    date: plain,
    date_short: short,
    date_long: long,
    date_pretty: relative(plain),
    date_short_pretty: relative(short),
    date_long_pretty: relative(long),
    time: f({ hour: "numeric", minute: "2-digit" }),
    time_secs: f({ hour: "numeric", minute: "2-digit", second: "2-digit" }),
    ago: minutes >= 0 ? `${minutes} minutes ago` : `in ${-minutes} minutes`,
  };
  const text = format.replace(/\{(\w+)\}/g, (whole, name) => tokens[name] ?? whole);
  return `<span class="date" title="${esc(`${fallback} — shown in ${zone}`)}">${esc(text)}</span>`;
}

// ---- mrkdwn -------------------------------------------------------------------------------------------------

function controlToken(inner) {
  const [target, label] = inner.split(/\|(.*)/s);
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const name = state.dir.users[id]?.name || label || id;
    return `<span class="mention${id === state.me ? " me" : ""}">@${esc(name)}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    return `<span class="mention">#${esc(state.dir.channels[id] || label || id)}</span>`;
  }
  if (target.startsWith("!subteam^")) {
    const id = target.slice(9);
    const handle = state.dir.groups[id]?.handle;
    return `<span class="mention">${esc(handle ? `@${handle}` : label || id)}</span>`;
  }
  if (target.startsWith("!date^")) {
    const [, epoch, format] = target.split("^");
    return slackDate(Number(epoch), format || "{date_num} {time}", unslack(label || ""));
  }
  if (target.startsWith("!")) return `<b>@${esc(target.slice(1))}</b>`;
  const url = unslack(target);
  if (/^(https?:|mailto:)/i.test(url)) {
    return `<a href="${esc(url)}" target="_blank" rel="noopener noreferrer">${esc(unslack(label || url))}</a>`;
  }
  return esc(unslack(label || target));
}

function emphasis(html) {
  return html
    .replace(/(^|[^\w*])\*([^*\n]+)\*(?!\w)/g, "$1<b>$2</b>")
    .replace(/(^|[^\w])_([^_\n]+)_(?!\w)/g, "$1<i>$2</i>")
    .replace(/(^|[^\w~])~([^~\n]+)~(?!\w)/g, "$1<s>$2</s>")
    .replace(/\n/g, "<br>");
}

function mrkdwn(text) {
  // Code and <…> tokens become placeholders first, so emphasis never reaches inside them.
  const saved = [];
  const keep = (html) => `\u0000${saved.push(html) - 1}\u0000`;
  let s = String(text ?? "")
    .replace(/```([\s\S]*?)```/g, (_, code) => keep(`<pre>${esc(unslack(code))}</pre>`))
    .replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${esc(unslack(code))}</code>`))
    .replace(/<([^<>]*)>/g, (_, inner) => keep(controlToken(inner)));
  s = emphasis(esc(unslack(s)));
  return s.replace(/\u0000(\d+)\u0000/g, (_, n) => saved[Number(n)]);
}

function textObject(obj) {
  if (!obj) return el("span");
  if (obj.type === "mrkdwn") return el("span", { class: "mrkdwn", html: mrkdwn(obj.text) });
  return el("span", {}, obj.text);
}

// ---- Block Kit ----------------------------------------------------------------------------------------------
// `where` says where an element lives: {ts} for a message, {viewId} for a modal (and how to act on it).

function renderBlocks(blocks, where) {
  return (blocks || []).map((block) => {
    const node = renderBlock(block, where);
    if (block.block_id) node.dataset.blockId = block.block_id;
    return node;
  });
}

function renderBlock(block, where) {
  switch (block.type) {
    case "section": {
      const text = el("div", { class: "text" }, block.text ? textObject(block.text) : null);
      if (block.fields) text.append(el("div", { class: "fields" }, block.fields.map(textObject)));
      const accessory = block.accessory ? renderElement(block.accessory, block, where) : null;
      return el("div", { class: "block section" }, text, accessory);
    }
    case "context":
      return el("div", { class: "block context" }, (block.elements || []).map((e) =>
        e.type === "image" ? el("span", {}, `[${e.alt_text || "image"}]`) : textObject(e)));
    case "divider":
      return el("hr", { class: "block divider" });
    case "header":
      return el("div", { class: "block header-block" }, block.text?.text);
    case "actions":
      return el("div", { class: "block actions" }, (block.elements || []).map((e) => renderElement(e, block, where)));
    case "input":
      return renderInput(block, where);
    default:
      return el("div", { class: "block context" }, `[a ${block.type} block: not drawn by the playground]`);
  }
}

function renderInput(block, where) {
  const error = where.errors?.[block.block_id];
  return el("div", { class: `block input${error ? " has-error" : ""}` },
    el("label", {}, block.label?.text, block.optional ? el("span", { class: "optional" }, " (optional)") : null),
    renderElement(block.element, block, where),
    block.hint ? el("div", { class: "hint" }, block.hint.text) : null,
    error ? el("div", { class: "error", role: "alert" }, error) : null);
}

// The value Slack would report for an element: what the person chose, else the element's initial value.
function currentValue(viewId, block, element) {
  const typed = state.forms[viewId]?.[block.block_id]?.[element.action_id];
  if (typed) return typed;
  switch (element.type) {
    case "static_select":
    case "external_select":
      return { type: element.type, selected_option: element.initial_option || null };
    case "datetimepicker":
      return { type: element.type, selected_date_time: element.initial_date_time ?? null };
    case "plain_text_input":
      return { type: element.type, value: element.initial_value ?? null };
    case "checkboxes":
      return { type: element.type, selected_options: element.initial_options || [] };
    default:
      return null;
  }
}

function remember(viewId, block, element, value) {
  const form = (state.forms[viewId] ||= {});
  (form[block.block_id] ||= {})[element.action_id] = value;
}

// Slack sends block_actions for elements in actions blocks and in inputs with dispatch_action.
async function dispatch(block, element, where, extra) {
  const action = { action_id: element.action_id, block_id: block.block_id, type: element.type, ...extra };
  if (where.viewId) {
    await api("/api/action", { view_id: where.viewId, action, state: viewState(where.viewId) });
  } else {
    await api("/api/action", { ts: where.ts, action });
  }
}

function dispatches(block) {
  return block.type !== "input" || block.dispatch_action;
}

function renderElement(element, block, where) {
  switch (element.type) {
    case "button":
      return renderButton(element, block, where);
    case "static_select":
      return renderStaticSelect(element, block, where);
    case "external_select":
      return renderExternalSelect(element, block, where);
    case "datetimepicker":
      return renderDateTimePicker(element, block, where);
    case "plain_text_input":
      return renderTextInput(element, block, where);
    case "checkboxes":
      return renderCheckboxes(element, block, where);
    default:
      return el("span", { class: "context" }, `[${element.type}]`);
  }
}

function renderButton(element, block, where) {
  const press = async (event) => {
    const button = event.currentTarget;
    if (element.confirm && !(await confirmDialog(element.confirm))) return;
    button.disabled = true;
    try {
      await dispatch(block, element, where, { value: element.value, text: element.text?.text });
    } finally {
      button.disabled = false;
    }
  };
  return el("button", { type: "button", class: `btn ${element.style || ""}`, "data-action-id": element.action_id, onclick: press },
    element.text?.text);
}

function optionList(element) {
  if (element.option_groups) return element.option_groups.flatMap((g) => g.options);
  return element.options || [];
}

function renderStaticSelect(element, block, where) {
  const current = currentValue(where.viewId, block, element)?.selected_option;
  const select = el("select", { "data-action-id": element.action_id },
    el("option", { value: "" }, element.placeholder?.text || "Choose…"),
    optionList(element).map((o) => el("option", { value: o.value, selected: current?.value === o.value }, o.text.text)));
  select.addEventListener("change", () => {
    const chosen = optionList(element).find((o) => o.value === select.value) || null;
    remember(where.viewId, block, element, { type: "static_select", selected_option: chosen });
    if (dispatches(block)) dispatch(block, element, where, { selected_option: chosen });
  });
  return select;
}

// A type-ahead select whose options come from the bot's options endpoint (block_suggestion).
function renderExternalSelect(element, block, where) {
  const current = currentValue(where.viewId, block, element)?.selected_option;
  const input = el("input", {
    class: "ext-input", "data-action-id": element.action_id, value: current?.text?.text || "",
    placeholder: element.placeholder?.text || "Search…", role: "combobox",
  });
  const list = el("ul", { class: "ext-list", hidden: true });
  let timer = null;
  const load = async () => {
    const data = await api("/api/options", {
      view_id: where.viewId, action_id: element.action_id, block_id: block.block_id, value: input.value,
    });
    list.replaceChildren();
    const groups = data.option_groups || (data.options ? [{ options: data.options }] : []);
    for (const group of groups) {
      if (group.label) list.append(el("li", { class: "group" }, group.label.text));
      for (const option of group.options) {
        list.append(el("li", { class: "ext-option", onmousedown: (e) => { e.preventDefault(); choose(option); } },
          option.text.text));
      }
    }
    if (!list.children.length) list.append(el("li", { class: "empty" }, "No matches"));
    list.hidden = false;
  };
  const choose = (option) => {
    input.value = option.text.text;
    list.hidden = true;
    remember(where.viewId, block, element, { type: "external_select", selected_option: option });
    if (dispatches(block)) dispatch(block, element, where, { selected_option: option });
  };
  const minimum = element.min_query_length ?? 3;
  const typed = () => {
    clearTimeout(timer);
    if (input.value.length >= minimum) timer = setTimeout(load, 250);
  };
  input.addEventListener("focus", () => { input.select(); typed(); });
  input.addEventListener("input", typed);
  input.addEventListener("blur", () => setTimeout(() => (list.hidden = true), 150));
  return el("div", { class: "ext" }, input, list);
}

function renderDateTimePicker(element, block, where) {
  const zone = myZone();
  const seconds = currentValue(where.viewId, block, element)?.selected_date_time;
  const input = el("input", { type: "datetime-local", "data-action-id": element.action_id,
    value: seconds ? epochToWall(seconds, zone) : "" });
  input.addEventListener("change", () => {
    const value = input.value ? wallToEpoch(input.value, zone) : null;
    remember(where.viewId, block, element, { type: "datetimepicker", selected_date_time: value });
    if (dispatches(block)) dispatch(block, element, where, { selected_date_time: value });
  });
  return el("div", {}, input, el("span", { class: "tz" }, `in your zone, ${zone}`));
}

function renderTextInput(element, block, where) {
  const value = currentValue(where.viewId, block, element)?.value || "";
  const attrs = { "data-action-id": element.action_id, placeholder: element.placeholder?.text || "",
    maxlength: element.max_length };
  const input = element.multiline ? el("textarea", { ...attrs, rows: 3 }, value) : el("input", { ...attrs, value });
  input.addEventListener("input", () =>
    remember(where.viewId, block, element, { type: "plain_text_input", value: input.value || null }));
  return input;
}

function renderCheckboxes(element, block, where) {
  const chosen = new Set((currentValue(where.viewId, block, element)?.selected_options || []).map((o) => o.value));
  const boxes = (element.options || []).map((option) => {
    const box = el("input", { type: "checkbox", value: option.value, checked: chosen.has(option.value) });
    box.addEventListener("change", () => {
      const picked = [...boxes].filter((b) => b.checked).map((b) => element.options.find((o) => o.value === b.value));
      remember(where.viewId, block, element, { type: "checkboxes", selected_options: picked });
      if (dispatches(block)) dispatch(block, element, where, { selected_options: picked });
    });
    return box;
  });
  return el("div", { class: "checkboxes", "data-action-id": element.action_id },
    (element.options || []).map((option, i) => el("label", {}, boxes[i], textObject(option.text))));
}

function confirmDialog(confirm) {
  const layer = document.getElementById("confirm-layer");
  return new Promise((resolve) => {
    const done = (answer) => { layer.hidden = true; layer.replaceChildren(); resolve(answer); };
    layer.replaceChildren(el("div", { class: "confirm", role: "dialog" },
      el("div", { class: "modal-head" }, el("h2", {}, confirm.title?.text || "Are you sure?")),
      el("div", { class: "modal-body" }, textObject(confirm.text)),
      el("div", { class: "modal-foot" },
        el("button", { type: "button", class: "btn", onclick: () => done(false) }, confirm.deny?.text || "Cancel"),
        el("button", { type: "button", class: `btn ${confirm.style || "primary"} confirm-yes`, onclick: () => done(true) },
          confirm.confirm?.text || "Yes"))));
    layer.hidden = false;
  });
}

// ---- the modal ----------------------------------------------------------------------------------------------

function viewState(viewId) {
  // Slack's view.state.values: every input (and actions element) of the view, typed or initial.
  const modal = state.snap?.modal;
  const values = {};
  if (!modal || modal.id !== viewId) return values;
  for (const block of modal.blocks) {
    const elements = block.type === "input" ? [block.element] : block.type === "actions" ? block.elements : [];
    for (const element of elements) {
      const value = element && element.action_id && currentValue(viewId, block, element);
      if (value) (values[block.block_id] ||= {})[element.action_id] = value;
    }
  }
  return values;
}

function drawModal() {
  const layer = document.getElementById("modal-layer");
  const modal = state.snap.modal;
  if (!modal) {
    layer.hidden = true;
    layer.replaceChildren();
    return;
  }
  const where = { viewId: modal.id, errors: modal.errors };
  const submit = async (event) => {
    event.target.disabled = true;
    try {
      await api("/api/submit", { view_id: modal.id, state: viewState(modal.id) });
    } finally {
      event.target.disabled = false;
    }
  };
  // The close button of a pushed view goes back one view; × closes the whole stack (as in Slack).
  const back = () => api("/api/close", { everything: modal.depth <= 1 });
  layer.replaceChildren(el("div", { class: "modal", role: "dialog", "data-view-id": modal.id, "data-callback-id": modal.callback_id },
    el("div", { class: "modal-head" },
      el("h2", {}, modal.title?.text, modal.depth > 1 ? el("span", { class: "stack-depth" }, `view ${modal.depth} of ${modal.depth}`) : null),
      el("button", { type: "button", "aria-label": "Close", class: "modal-x", onclick: () => api("/api/close", { everything: true }) }, "×")),
    el("div", { class: "modal-body" }, renderBlocks(modal.blocks, where)),
    el("div", { class: "modal-foot" },
      el("button", { type: "button", class: "btn modal-close", onclick: back }, modal.close?.text || "Cancel"),
      modal.submit ? el("button", { type: "button", class: "btn primary modal-submit", onclick: submit }, modal.submit.text) : null)));
  layer.hidden = false;
}

// ---- channel, thread, ephemerals ----------------------------------------------------------------------------

function tsTime(ts) {
  return new Intl.DateTimeFormat("en-US", { timeZone: myZone(), hour: "numeric", minute: "2-digit" })
    .format(new Date(Number(ts) * 1000));
}

function renderMessage(message, { inThread = false } = {}) {
  const bot = state.dir.bot;
  const who = message.user === bot.id ? bot.name : state.dir.users[message.user]?.name || message.user;
  const body = message.blocks?.length
    ? renderBlocks(message.blocks, { ts: message.ts })
    : [el("div", { class: "mrkdwn", html: mrkdwn(message.text) })];
  const replies = message.replies || [];
  const link = !inThread && replies.length
    ? el("button", { type: "button", class: "replies-link", onclick: () => openThread(message.ts) },
      `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`)
    : null;
  return el("div", { class: "message", "data-ts": message.ts },
    el("div", {}, el("span", { class: "who" }, who, el("span", { class: "app" }, "APP")),
      el("span", { class: "when" }, tsTime(message.ts)), message.edited ? el("span", { class: "edited" }, " (edited)") : null),
    body, link);
}

function renderEphemeral(ephemeral) {
  return el("div", { class: "message ephemeral", "data-ephemeral": ephemeral.id },
    el("div", { class: "only-you" }, "👁 Only visible to you · ",
      el("button", { type: "button", class: "replies-link", onclick: () => { state.dismissed.add(ephemeral.id); draw(true); } }, "Dismiss")),
    ephemeral.blocks?.length ? renderBlocks(ephemeral.blocks, { ts: null }) : el("div", { class: "mrkdwn", html: mrkdwn(ephemeral.text) }));
}

function openThread(ts) {
  state.thread = ts;
  draw(true);
}

function changed(part, value) {
  const json = JSON.stringify(value);
  if (state.drawn[part] === json) return false;
  state.drawn[part] = json;
  return true;
}

function draw(force = false) {
  if (force) state.drawn = {};
  const snap = state.snap;
  const ephemerals = snap.ephemerals.filter((e) => !state.dismissed.has(e.id));
  const box = document.getElementById("messages");
  // An ephemeral sent into a thread shows in that thread when it is open, else in the channel (so it is seen).
  const inChannel = ephemerals.filter((e) => !e.thread_ts || e.thread_ts !== state.thread);
  if (changed("channel", [snap.messages, inChannel, state.me])) {
    // The pane follows the newest message while the person is at the bottom (as Slack does); scrolled up to read,
    // they stay where they are.
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.replaceChildren(...snap.messages.map((m) => renderMessage(m)), ...inChannel.map(renderEphemeral));
    if (atBottom || state.toBottom) box.scrollTop = box.scrollHeight;
    state.toBottom = false;
  }
  const parent = snap.messages.find((m) => m.ts === state.thread);
  const pane = document.getElementById("thread");
  if (changed("thread", [parent, ephemerals.filter((e) => e.thread_ts && e.thread_ts === state.thread), state.me])) {
    pane.hidden = !parent;
    if (parent) {
      document.getElementById("thread-messages").replaceChildren(
        el("div", { class: "thread-parent" }, renderMessage(parent, { inThread: true })),
        ...parent.replies.map((r) => renderMessage(r, { inThread: true })),
        ...ephemerals.filter((e) => e.thread_ts === state.thread).map(renderEphemeral));
    }
  }
  if (changed("dms", [snap.dms, state.me])) {
    document.getElementById("dms-box").hidden = !snap.dms.length;
    document.getElementById("dms").replaceChildren(...snap.dms.map((m) => renderMessage(m, { inThread: true })));
  }
  if (changed("home", [snap.home, state.tab, state.me])) drawHome();
  const modal = snap.modal;
  if (changed("modal", modal && [modal.id, modal.hash, modal.errors, modal.depth, state.me])) drawModal();
}

// The app's Home tab: what the bot published for this person (views.publish), drawn from its blocks; its
// buttons are clicks in a view (no channel), as in Slack.
function drawHome() {
  const home = state.snap.home;
  const onHome = state.tab === "home";
  document.getElementById("home").hidden = !onHome;
  document.getElementById("messages").hidden = onHome;
  document.getElementById("composer-form").hidden = onHome;
  document.getElementById("home-link").classList.toggle("open", onHome);
  if (!onHome) return;
  document.getElementById("home").replaceChildren(...(home
    ? renderBlocks(home.blocks, { viewId: home.id })
    : [el("p", { class: "muted" }, "Opening the Home tab…")]));
}

async function openTab(tab) {
  state.tab = tab;
  draw(true);
  if (tab === "home") await api("/api/home", {});
}

// ---- the frame: person switcher, channel list, composer, polling --------------------------------------------

function drawFrame() {
  const dir = state.dir;
  const who = document.getElementById("who");
  who.replaceChildren(...dir.people.map((p) => el("option", { value: p.id, selected: p.id === state.me }, `${p.name} — ${p.role}`)));
  document.getElementById("who-can").textContent = person(state.me)?.can || "";
  document.getElementById("channel-list").replaceChildren(
    el("div", { class: "chan", role: "button", onclick: () => openTab("channel") }, `# ${dir.channel.name}`));
  const group = Object.values(dir.groups)[0];
  document.getElementById("people").replaceChildren(...dir.people.map((p) => el("li", {},
    `${p.name} (${p.role}${group?.members.includes(p.id) ? `, @${group.handle}` : ""}) · ${p.tz}`)));
  document.getElementById("channel-header").replaceChildren(`# ${dir.channel.name}`,
    el("span", { class: "muted" }, `with @${dir.bot.name} · approvers: @${group?.handle}`));
}

async function poll() {
  clearTimeout(poll.timer);
  try {
    const answer = await fetch(`/api/state?user=${encodeURIComponent(state.me)}`);
    if (answer.ok) {
      state.snap = await answer.json();
      draw();
    }
  } finally {
    poll.timer = setTimeout(poll, 400);
  }
}

async function start() {
  state.dir = await (await fetch("/api/directory")).json();
  if (!person(state.me)) state.me = state.dir.people[0].id;
  drawFrame();
  document.getElementById("who").addEventListener("change", (event) => {
    state.me = event.target.value;
    localStorage.setItem("playground.me", state.me);
    drawFrame();
    state.drawn = {};
    state.toBottom = true;
    if (state.tab === "home") api("/api/home", {});
    poll();
  });
  document.getElementById("home-link").addEventListener("click", () => openTab("home"));
  document.getElementById("thread-close").addEventListener("click", () => { state.thread = null; draw(true); });
  document.getElementById("composer-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = document.getElementById("composer");
    const text = box.value.trim();
    if (!text) return;
    box.value = "";
    document.getElementById("messages").scrollTop = 1e9; // the answer lands at the bottom: be there
    await api("/api/command", { text });
  });
  poll();
}

start();
