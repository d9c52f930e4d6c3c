// Live group chat (templates/groups/chat.html). A plain ES module, no build step.
//
// Everything a user typed is put on the page with textContent or as text nodes;
// links are <a> elements built here, for http(s) addresses only. Never innerHTML.
// The page works without this script: it shows the latest messages and posts
// through a form. With it, messages arrive live over a WebSocket; after a
// dropped connection the script shows "Reconnecting…", reconnects with
// backoff and asks for everything after the last message it saw.

const FINAL_CLOSE = {
  4401: "closed_session",
  4403: "closed_membership",
  4410: "closed_archived",
  4429: "closed_flooding",
};
const GROUP_GAP_MS = 5 * 60 * 1000; // messages closer than this by one author read as one block
const PING_MS = 25_000;
const TYPING_SEND_MS = 3_000;
const TYPING_SHOW_MS = 5_000;
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

function readJSON(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => (key in values ? values[key] : ""));
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function randomId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function formatters(language, timeZone) {
  const make = (options) => {
    try {
      return new Intl.DateTimeFormat(language, { ...options, timeZone });
    } catch {
      return new Intl.DateTimeFormat(language, options); // unknown zone: the browser's own
    }
  };
  return {
    time: make({ hour: "2-digit", minute: "2-digit" }),
    day: make({ weekday: "long", day: "numeric", month: "long", year: "numeric" }),
    full: make({ dateStyle: "full", timeStyle: "short" }),
    key: make({ year: "numeric", month: "2-digit", day: "2-digit" }),
  };
}

class ChatRoom {
  constructor(root, config, initial, members) {
    this.root = root;
    this.config = config;
    this.T = config.texts;
    this.fmt = formatters(config.language, config.timezone);
    this.members = members;
    this.mentionRe = this.buildMentionRe(members);
    this.byId = new Map(); // message id -> message
    this.nodes = new Map(); // message id -> {key, node}
    this.dayNodes = new Map(); // day -> separator
    this.pending = new Map(); // client id -> {frame, failed}
    this.outbox = []; // frames waiting for a connection (edits, deletions)
    this.typers = new Map(); // user id -> {name, until}
    this.lastSeq = 0; // every message up to this number is here (or older than the first page)
    this.syncedAt = config.now;
    this.hasMore = config.has_more;
    this.canPost = config.can_post;
    this.canModerate = config.can_moderate;
    this.ws = null;
    this.attempts = 0;
    this.closedFor = null;
    this.resuming = false;
    this.loadingEarlier = false;
    this.replyTo = null;
    this.editing = null; // {id, draft}
    this.lastTypingSent = 0;
    this.suggestion = { items: [], index: 0, start: -1 };
    this.$ = (id) => document.getElementById(id);
    this.list = this.$("chat-messages");
    this.log = this.$("chat-log");
    this.status = this.$("chat-status");
    this.form = this.$("chat-form");
    this.input = this.$("chat-body");
    for (const message of initial) this.store(message);
    this.lastSeq = Math.max(0, ...initial.map((m) => m.seq));
  }

  start() {
    this.setUpEarlier();
    this.setUpComposer();
    this.render({ toBottom: true });
    this.showTarget();
    document.addEventListener("visibilitychange", () => this.markReadSoon());
    this.log.addEventListener("scroll", () => this.markReadSoon());
    window.addEventListener("online", () => {
      if (!this.ws && !this.closedFor) this.connect();
    });
    this.connect();
  }

  // A link to one message (a mention notification): show it, not the bottom.
  showTarget() {
    const match = /^#message-(\d+)$/.exec(location.hash);
    const target = match && document.getElementById(`message-${match[1]}`);
    if (!target) return;
    target.scrollIntoView({ block: "center" });
    target.classList.add("is-highlighted");
    setTimeout(() => target.classList.remove("is-highlighted"), 3000);
  }

  // --- Connection ------------------------------------------------------

  connect() {
    clearTimeout(this.retryTimer);
    if (this.closedFor) return;
    this.setStatus(this.attempts ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + this.config.ws_path);
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => this.onClose(ws, event));
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.ready) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  onClose(ws, event) {
    if (this.ws !== ws) return;
    this.ws = null;
    this.ready = false;
    clearInterval(this.pingTimer);
    const final = FINAL_CLOSE[event.code];
    if (final) {
      this.closedFor = final;
      this.setStatus("closed", this.T[final]);
      this.disableComposer();
      return;
    }
    this.attempts += 1;
    this.setStatus("reconnecting");
    if (!ws.wasReady && this.attempts >= 3) this.checkAccess();
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.attempts, 6));
    this.retryTimer = setTimeout(() => this.connect(), delay / 2 + (Math.random() * delay) / 2);
  }

  // A refused handshake looks like a network error in the browser: ask over HTTP
  // whether the session or the membership is what ended.
  async checkAccess() {
    try {
      const response = await fetch(`${this.config.history_url}?after=${this.lastSeq}&limit=1`, {
        credentials: "same-origin",
        redirect: "manual",
        headers: { Accept: "application/json" },
      });
      const reason =
        response.type === "opaqueredirect" ? "closed_session" : response.status === 404 ? "closed_membership" : null;
      if (reason) {
        this.closedFor = reason;
        clearTimeout(this.retryTimer);
        this.setStatus("closed", this.T[reason]);
        this.disableComposer();
      }
    } catch {
      // offline: keep trying
    }
  }

  onFrame(frame) {
    switch (frame.type) {
      case "hello":
        this.ready = true;
        this.ws.wasReady = true;
        this.attempts = 0;
        this.canPost = frame.can_post;
        this.canModerate = frame.can_moderate;
        if (!this.canPost) this.disableComposer();
        this.showOnline(frame.online);
        this.resume();
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.send({ type: "ping" }), PING_MS);
        this.setStatus("live");
        break;
      case "message":
        this.receive([frame.message]);
        break;
      case "changed":
        this.receive([frame.message], { changed: true });
        break;
      case "messages":
        this.receive(frame.messages, { batch: true });
        break;
      case "resumed":
        this.resuming = false;
        this.lastSeq = Math.max(this.lastSeq, frame.upto);
        this.advance();
        this.syncedAt = frame.now;
        this.flush();
        this.markReadSoon();
        break;
      case "ack":
        this.pending.delete(frame.client_id);
        if (frame.message) this.receive([frame.message], { batch: true });
        else this.render();
        break;
      case "presence":
        this.showOnline(frame.online);
        break;
      case "typing":
        this.typers.set(frame.user.id, { name: frame.user.name, until: Date.now() + TYPING_SHOW_MS });
        this.showTyping();
        break;
      case "pong":
        if (frame.can_post === false && this.canPost) {
          this.canPost = false;
          this.disableComposer();
        }
        // Broadcasts missed while the channel layer forgot this socket (a Redis restart).
        if (frame.latest_seq > this.lastSeq && !this.resuming && this.ready) this.resume();
        break;
      case "error":
        this.onError(frame);
        break;
      default:
        break; // "closed" is followed by the close event
    }
  }

  resume() {
    this.resuming = true;
    this.send({ type: "resume", after: this.lastSeq, since: this.syncedAt });
  }

  flush() {
    for (const [clientId, entry] of this.pending) {
      if (!entry.failed) this.send({ ...entry.frame, client_id: clientId });
    }
    while (this.outbox.length && this.send(this.outbox[0])) this.outbox.shift();
    this.render();
  }

  onError(frame) {
    if (frame.client_id && this.pending.has(frame.client_id)) {
      const entry = this.pending.get(frame.client_id);
      this.pending.delete(frame.client_id);
      if (!this.input.value.trim()) this.input.value = entry.frame.body;
      const picker = this.$("chat-document");
      if (picker && entry.frame.document && !picker.value) picker.value = String(entry.frame.document);
      this.render();
    }
    this.showError(frame.message);
  }

  // --- Messages --------------------------------------------------------

  store(message) {
    this.byId.set(message.id, message);
  }

  receive(messages, { changed = false, batch = false } = {}) {
    let gap = false;
    for (const message of messages) {
      this.store(message);
      if (message.client_id) this.pending.delete(message.client_id);
      if (message.author) this.typers.delete(message.author.id);
      if (!changed && !batch && message.seq > this.lastSeq + 1) gap = true;
    }
    const nearBottom = this.isNearBottom();
    this.advance();
    const own = messages.some((m) => m.author && m.author.id === this.config.user_id && !changed);
    this.render({ toBottom: nearBottom || own });
    this.showTyping();
    // A broadcast that skips a number means one was lost on the way: fetch it.
    if (gap && !this.resuming && this.ready) this.resume();
    this.markReadSoon();
  }

  advance() {
    const seqs = new Set(Array.from(this.byId.values(), (m) => m.seq));
    while (seqs.has(this.lastSeq + 1)) this.lastSeq += 1;
  }

  sorted() {
    return Array.from(this.byId.values()).sort((a, b) => a.seq - b.seq);
  }

  render({ toBottom = false, keepFromBottom = null } = {}) {
    const atBottom = toBottom || this.isNearBottom();
    const focused = document.activeElement;
    const nodes = [];
    let previous = null;
    let lastDay = null;
    for (const message of this.sorted()) {
      const created = new Date(message.created_at);
      const day = this.fmt.key.format(created);
      if (day !== lastDay) {
        if (!this.dayNodes.has(day)) {
          this.dayNodes.set(day, el("li", { class: "chat-day" }, el("h3", { text: this.fmt.day.format(created) })));
        }
        nodes.push(this.dayNodes.get(day));
        lastDay = day;
        previous = null;
      }
      const continued =
        previous !== null &&
        !message.reply_to &&
        previous.author &&
        message.author &&
        previous.author.id === message.author.id &&
        created - new Date(previous.created_at) < GROUP_GAP_MS;
      nodes.push(this.messageNode(message, continued));
      previous = message;
    }
    for (const [clientId, entry] of this.pending) nodes.push(this.pendingNode(clientId, entry));
    if (!nodes.length) {
      this.emptyNode ||= el("li", { class: "chat-empty muted", text: this.T.empty });
      nodes.push(this.emptyNode);
    }
    const editorFocused = focused && focused.closest && focused.closest(".chat-edit");
    const selection = editorFocused ? [focused.selectionStart, focused.selectionEnd] : null;
    this.reconcile(nodes);
    if (selection) {
      const editor = this.list.querySelector(".chat-edit textarea");
      if (editor) {
        editor.focus();
        editor.setSelectionRange(...selection);
      }
    }
    if (keepFromBottom !== null) this.log.scrollTop = this.log.scrollHeight - keepFromBottom;
    else if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }

  // Put ``nodes`` in the list, moving only what changed: a node that stays where it
  // was is not touched (keeps focus, and is not detached under the user's pointer).
  reconcile(nodes) {
    const list = this.list;
    nodes.forEach((node, i) => {
      const current = list.children[i];
      if (current !== node) list.insertBefore(node, current || null);
    });
    while (list.children.length > nodes.length) list.lastElementChild.remove();
  }

  messageNode(message, continued) {
    const editing = this.editing && this.editing.id === message.id;
    const key = [message.edited_at, message.deleted, message.document?.url, continued, editing, this.canPost, this.canModerate, this.closedFor].join("|");
    const cached = this.nodes.get(message.id);
    if (cached && cached.key === key) return cached.node;
    const mine = message.author && message.author.id === this.config.user_id;
    const created = new Date(message.created_at);
    const classes = ["chat-msg"];
    if (continued) classes.push("is-continued");
    if (message.deleted) classes.push("is-deleted");
    if (mine) classes.push("is-mine");
    if (message.mentions.includes(this.config.user_id)) classes.push("mentions-me");
    const author = message.author ? message.author.name : this.T.former_member;
    const meta = el(
      "div",
      { class: "chat-meta" },
      el("span", { class: "chat-author", text: author }),
      " ",
      el("time", { datetime: message.created_at, title: this.fmt.full.format(created), text: this.fmt.time.format(created) }),
    );
    if (message.edited_at && !message.deleted) {
      meta.append(
        " ",
        el("span", {
          class: "chat-edited",
          title: format(this.T.edited_at, { time: this.fmt.full.format(new Date(message.edited_at)) }),
          text: `(${this.T.edited})`,
        }),
      );
    }
    const node = el("li", { class: classes.join(" "), id: `message-${message.id}`, "data-seq": message.seq }, meta);
    if (message.reply_to) node.append(this.quoteNode(message.reply_to));
    if (editing) {
      node.append(this.editNode(message));
    } else if (message.deleted) {
      node.append(el("div", { class: "chat-body" }, el("em", { class: "muted", text: message.deleted_by_author ? this.T.deleted : this.T.removed })));
    } else {
      const body = el("div", { class: "chat-body" });
      this.appendRichText(body, message.body);
      node.append(body);
      if (message.document) node.append(this.documentNode(message.document));
    }
    if (!message.deleted && !editing && !this.closedFor) {
      const actions = el("div", { class: "chat-actions" });
      if (this.canPost) {
        actions.append(el("button", { type: "button", class: "link", text: this.T.reply, onclick: () => this.startReply(message) }));
      }
      if (mine && this.canPost) {
        actions.append(el("button", { type: "button", class: "link", text: this.T.edit, onclick: () => this.startEdit(message) }));
      }
      if ((mine && this.canPost) || this.canModerate) {
        actions.append(el("button", { type: "button", class: "link danger", text: this.T.delete, onclick: () => this.remove(message) }));
      }
      if (actions.childElementCount) node.append(actions);
    }
    this.nodes.set(message.id, { key, node });
    return node;
  }

  documentNode(doc) {
    const line = el("p", { class: "chat-doc" }, `${this.T.document} `);
    if (doc.url) line.append(el("a", { href: doc.url, text: doc.title }));
    else line.append(el("em", { class: "muted", text: this.T.document_gone }));
    return line;
  }

  quoteNode(reply) {
    const name = reply.author || this.T.former_member;
    const quote = el("blockquote", { class: "chat-quote" });
    const jump = el("a", { href: `#message-${reply.id}`, title: this.T.jump, text: format(this.T.reply_to, { name }) });
    jump.addEventListener("click", (event) => {
      const target = document.getElementById(`message-${reply.id}`);
      if (target) {
        event.preventDefault();
        target.scrollIntoView({ block: "center" });
        target.classList.add("is-highlighted");
        setTimeout(() => target.classList.remove("is-highlighted"), 1500);
      }
    });
    quote.append(jump, ": ");
    if (reply.deleted) quote.append(el("em", { text: this.T.quoted_deleted }));
    else quote.append(reply.excerpt);
    return quote;
  }

  pendingNode(clientId, entry) {
    const label = this.ready ? this.T.sending : this.T.queued;
    if (entry.node && entry.label === label) return entry.node;
    const body = el("div", { class: "chat-body" });
    this.appendRichText(body, entry.frame.body);
    entry.label = label;
    entry.node = el(
      "li",
      { class: "chat-msg is-mine is-pending", "data-client-id": clientId },
      el("div", { class: "chat-meta" }, el("span", { class: "chat-author", text: this.T.you }), " ", el("span", { class: "muted", text: label })),
      body,
    );
    if (entry.documentTitle) entry.node.append(el("p", { class: "chat-doc", text: `${this.T.document} ${entry.documentTitle}` }));
    return entry.node;
  }

  // Text, with http(s) links as <a> elements and mentions of members highlighted.
  appendRichText(parent, text) {
    let last = 0;
    for (const match of text.matchAll(URL_RE)) {
      const raw = match[0].replace(/[.,;:!?'")\]]+$/, "");
      this.appendMentions(parent, text.slice(last, match.index));
      parent.append(this.linkNode(raw));
      last = match.index + raw.length;
    }
    this.appendMentions(parent, text.slice(last));
  }

  linkNode(raw) {
    let url;
    try {
      url = new URL(raw);
    } catch {
      return document.createTextNode(raw);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return document.createTextNode(raw);
    return el("a", { href: url.href, rel: "noopener nofollow ugc", target: "_blank", text: raw });
  }

  appendMentions(parent, text) {
    if (!text) return;
    if (!this.mentionRe) {
      parent.append(text);
      return;
    }
    let last = 0;
    for (const match of text.matchAll(this.mentionRe)) {
      parent.append(text.slice(last, match.index), el("span", { class: "mention", text: match[0] }));
      last = match.index + match[0].length;
    }
    parent.append(text.slice(last));
  }

  buildMentionRe(members) {
    const names = members.map((m) => m.name).filter(Boolean).sort((a, b) => b.length - a.length);
    if (!names.length) return null;
    return new RegExp(`@(?:${names.map(escapeRegExp).join("|")})(?![\\p{L}\\p{N}_])`, "giu");
  }

  // --- Earlier messages ------------------------------------------------

  setUpEarlier() {
    const holder = this.$("chat-earlier");
    this.earlier = holder;
    this.showEarlier();
    if ("IntersectionObserver" in window) {
      const observer = new IntersectionObserver(
        (entries) => {
          if (entries.some((e) => e.isIntersecting) && this.log.scrollHeight > this.log.clientHeight) this.loadEarlier();
        },
        { root: this.log },
      );
      observer.observe(holder);
    }
  }

  showEarlier(text = null) {
    if (text) {
      this.earlier.replaceChildren(el("span", { class: "muted", text }));
    } else if (this.hasMore) {
      this.earlier.replaceChildren(
        el("button", { type: "button", class: "small secondary", text: this.T.load_earlier, onclick: () => this.loadEarlier() }),
      );
    } else {
      this.earlier.replaceChildren(el("span", { class: "muted", text: this.T.beginning }));
    }
  }

  async loadEarlier() {
    if (this.loadingEarlier || !this.hasMore) return;
    const oldest = Math.min(...Array.from(this.byId.values(), (m) => m.seq));
    if (!Number.isFinite(oldest)) return;
    this.loadingEarlier = true;
    this.showEarlier(this.T.loading);
    try {
      const response = await fetch(`${this.config.history_url}?before=${oldest}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      const fromBottom = this.log.scrollHeight - this.log.scrollTop;
      for (const message of data.messages) if (!this.byId.has(message.id)) this.store(message);
      this.hasMore = data.has_more;
      this.render({ keepFromBottom: fromBottom });
      this.showEarlier();
    } catch {
      this.showEarlier();
      this.showError(this.T.history_failed);
    } finally {
      this.loadingEarlier = false;
    }
  }

  // --- Writing ---------------------------------------------------------

  setUpComposer() {
    if (!this.form || !this.input) return;
    this.replyBox = this.$("chat-reply");
    this.suggestions = this.$("chat-suggestions");
    this.typingLine = this.$("chat-typing");
    this.errorLine = el("p", { class: "chat-error", role: "alert", hidden: true });
    this.form.append(this.errorLine);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => this.onKey(event));
    this.input.addEventListener("input", () => {
      this.suggest();
      this.hideError();
      const now = Date.now();
      if (this.input.value.trim() && now - this.lastTypingSent > TYPING_SEND_MS && this.send({ type: "typing" })) {
        this.lastTypingSent = now;
      }
    });
    // A textbox that offers completions: aria-expanded belongs to comboboxes only.
    this.input.setAttribute("aria-autocomplete", "list");
    this.input.setAttribute("aria-controls", "chat-suggestions");
  }

  onKey(event) {
    if (!this.suggestions.hidden) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        const count = this.suggestion.items.length;
        this.suggestion.index = (this.suggestion.index + step + count) % count;
        this.showSuggestions();
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        this.choose(this.suggestion.items[this.suggestion.index]);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        this.closeSuggestions();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.submit();
    } else if (event.key === "Escape" && this.replyTo) {
      this.cancelReply();
    }
  }

  submit() {
    const body = this.input.value.trim();
    if (!body || !this.canPost || this.closedFor) return;
    if (body.length > this.config.max_length) {
      this.showError(`${body.length} / ${this.config.max_length}`);
      return;
    }
    const frame = { type: "send", body };
    if (this.replyTo) frame.reply_to = this.replyTo.id;
    const picker = this.$("chat-document");
    let documentTitle = null;
    if (picker && picker.value) {
      frame.document = Number(picker.value);
      documentTitle = picker.selectedOptions[0].textContent;
      picker.value = "";
    }
    const clientId = randomId();
    this.pending.set(clientId, { frame, documentTitle });
    this.send({ ...frame, client_id: clientId });
    this.input.value = "";
    this.cancelReply();
    this.closeSuggestions();
    this.render({ toBottom: true });
    this.input.focus();
  }

  startReply(message) {
    this.replyTo = { id: message.id };
    const name = message.author ? message.author.name : this.T.former_member;
    this.replyBox.replaceChildren(
      el("span", { text: format(this.T.replying_to, { name }) }),
      el("span", { class: "muted", text: `: ${message.body.slice(0, 120)}` }),
      " ",
      el("button", { type: "button", class: "small secondary", text: this.T.cancel, onclick: () => this.cancelReply() }),
    );
    this.replyBox.hidden = false;
    this.input.focus();
  }

  cancelReply() {
    this.replyTo = null;
    if (this.replyBox) {
      this.replyBox.hidden = true;
      this.replyBox.replaceChildren();
    }
  }

  startEdit(message) {
    this.editing = { id: message.id, draft: message.body };
    this.render();
    const editor = this.list.querySelector(".chat-edit textarea");
    if (editor) {
      editor.focus();
      editor.setSelectionRange(editor.value.length, editor.value.length);
    }
  }

  editNode(message) {
    const area = el("textarea", { rows: 3, maxlength: this.config.max_length, "aria-label": this.T.edit_label });
    area.value = this.editing.draft;
    area.addEventListener("input", () => {
      this.editing.draft = area.value;
    });
    const save = () => {
      const body = area.value.trim();
      if (body && body !== message.body) this.queue({ type: "edit", id: message.id, body });
      this.editing = null;
      this.render();
      this.input?.focus();
    };
    const cancel = () => {
      this.editing = null;
      this.render();
    };
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save();
      } else if (event.key === "Escape") {
        event.preventDefault();
        cancel();
      }
    });
    return el(
      "div",
      { class: "chat-edit" },
      area,
      el(
        "div",
        { class: "button-row" },
        el("button", { type: "button", class: "small", text: this.T.save, onclick: save }),
        el("button", { type: "button", class: "small secondary", text: this.T.cancel, onclick: cancel }),
      ),
    );
  }

  remove(message) {
    if (window.confirm(this.T.confirm_delete)) this.queue({ type: "delete", id: message.id });
  }

  queue(frame) {
    if (!this.send(frame)) this.outbox.push(frame);
  }

  disableComposer() {
    if (this.input) this.input.disabled = true;
    const button = this.$("chat-send");
    if (button) button.disabled = true;
    const picker = this.$("chat-document");
    if (picker) picker.disabled = true;
    this.editing = null;
    this.render();
  }

  showError(text) {
    if (!this.errorLine) return;
    this.errorLine.textContent = text;
    this.errorLine.hidden = false;
  }

  hideError() {
    if (this.errorLine && !this.errorLine.hidden) this.errorLine.hidden = true;
  }

  // --- Mentions --------------------------------------------------------

  suggest() {
    const caret = this.input.selectionStart;
    const before = this.input.value.slice(0, caret);
    const match = /(^|\s)@([^\s@]{0,30})$/u.exec(before);
    if (!match) {
      this.closeSuggestions();
      return;
    }
    const query = match[2].toLocaleLowerCase();
    const items = this.members
      .filter((m) => m.id !== this.config.user_id)
      .filter((m) => m.name.toLocaleLowerCase().split(/\s+/).some((part) => part.startsWith(query)) || m.name.toLocaleLowerCase().startsWith(query))
      .slice(0, 6);
    if (!items.length) {
      this.closeSuggestions();
      return;
    }
    this.suggestion = { items, index: 0, start: caret - match[2].length - 1 };
    this.showSuggestions();
  }

  showSuggestions() {
    const { items, index } = this.suggestion;
    this.suggestions.replaceChildren(
      ...items.map((member, i) => {
        const option = el("li", {
          role: "option",
          id: `chat-suggestion-${i}`,
          "aria-selected": i === index ? "true" : "false",
          text: member.name,
        });
        option.addEventListener("mousedown", (event) => {
          event.preventDefault();
          this.choose(member);
        });
        return option;
      }),
    );
    this.suggestions.hidden = false;
    this.input.setAttribute("aria-activedescendant", `chat-suggestion-${index}`);
  }

  closeSuggestions() {
    if (!this.suggestions) return;
    this.suggestions.hidden = true;
    this.suggestions.replaceChildren();
    this.input.removeAttribute("aria-activedescendant");
  }

  choose(member) {
    const { start } = this.suggestion;
    const caret = this.input.selectionStart;
    const value = this.input.value;
    const insert = `@${member.name} `;
    this.input.value = value.slice(0, start) + insert + value.slice(caret);
    const position = start + insert.length;
    this.input.setSelectionRange(position, position);
    this.closeSuggestions();
    this.input.focus();
  }

  // --- Presence, typing, reading ---------------------------------------

  showOnline(people) {
    const list = this.$("chat-online");
    if (!list) return;
    if (!people.length) {
      list.replaceChildren(el("li", { class: "muted", text: this.T.nobody_online }));
      return;
    }
    list.replaceChildren(
      ...people.map((person) =>
        el(
          "li",
          {},
          el("span", { class: "chat-dot", "aria-hidden": "true" }),
          person.name,
          person.id === this.config.user_id ? el("span", { class: "muted", text: ` (${this.T.you})` }) : null,
        ),
      ),
    );
  }

  showTyping() {
    if (!this.typingLine) return;
    const now = Date.now();
    for (const [id, typer] of this.typers) if (typer.until <= now) this.typers.delete(id);
    const names = Array.from(this.typers.values(), (t) => t.name);
    let text = "";
    if (names.length === 1) text = format(this.T.typing_one, { name: names[0] });
    else if (names.length === 2) text = format(this.T.typing_two, { first: names[0], second: names[1] });
    else if (names.length > 2) text = this.T.typing_many;
    if (this.typingLine.textContent !== text) this.typingLine.textContent = text;
    clearTimeout(this.typingTimer);
    if (names.length) this.typingTimer = setTimeout(() => this.showTyping(), 1000);
  }

  isNearBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
  }

  markReadSoon() {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => {
      if (document.visibilityState !== "visible" || !this.isNearBottom()) return;
      if (this.lastSeq > (this.readSeq || 0) && this.send({ type: "read", seq: this.lastSeq })) {
        this.readSeq = this.lastSeq;
      }
    }, 800);
  }

  setStatus(state, text = null) {
    this.status.dataset.state = state;
    this.status.textContent = text || this.T[state] || "";
    this.root.classList.toggle("is-offline", state !== "live");
    if (state !== "closed") this.render();
  }
}

// Start once the page is parsed (modules run deferred).
const chatRoot = document.querySelector("[data-chat]");
if (chatRoot) {
  const config = readJSON("chat-config");
  if (config && config.live) {
    new ChatRoom(chatRoot, config, readJSON("chat-initial") || [], readJSON("chat-members") || []).start();
  }
}
