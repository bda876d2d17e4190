// The chat of one room (messenger/room.html). Live over a WebSocket to the ASGI process;
// after a drop it reconnects with exponential backoff and jitter and fetches exactly what it
// missed: new messages since the last message id, and edits and deletions since the server
// time of its last catch-up; when no socket can be opened it polls over HTTP.
// Every message carries a key made here, so a send retried after a drop is stored once.
"use strict";
(function () {
  const root = document.getElementById("chat");
  if (!root) return;
  const strings = JSON.parse(document.getElementById("chat-strings").textContent);
  const roomId = Number(root.dataset.room);
  const userId = Number(root.dataset.user);
  const isModerator = root.dataset.moderator === "1";
  const lang = document.documentElement.lang || "de";
  const log = root.querySelector(".chat-log");
  const scroller = root.querySelector(".chat-scroll");
  const statusLine = root.querySelector(".chat-status");
  const olderButton = root.querySelector(".chat-older");
  const form = root.querySelector(".chat-compose");
  const textarea = form && form.querySelector("textarea");
  const backoff = window.Kreide.backoffDelay;

  const shown = new Map(); // message id → <li>
  const pending = new Map(); // idempotency key → {text, attachment, li, tries, failed}
  let lastId = 0;
  let since = null; // the server's time at the last complete catch-up
  let oldestId = null;
  let socket = null;
  let socketOpen = false;
  let socketAttempt = 0;
  let everConnected = false;
  let polling = false;
  let pollTimer = null;
  let pollIdle = 0;
  let pollFailures = 0;
  let readUpto = 0;
  let readTimer = null;

  // --- helpers ---------------------------------------------------------------------------
  // Both scripts are deferred after kreide.js, which defines the shared helpers.
  const csrfToken = window.Kreide.csrfToken;

  function api(url, body) {
    const options = {
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    };
    if (body !== undefined) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then((response) =>
      response.json().catch(() => ({})).then((json) => ({
        status: response.status, ok: response.ok, json,
        // When the server is shedding load it says when to come back; every retry honours it.
        retryAfterMs: window.Kreide.retryAfterMs(response.headers.get("Retry-After")) || 0,
      })));
  }

  function messageUrl(template, id) {
    return template.replace("/0/", "/" + id + "/");
  }

  // Not crypto.randomUUID: that needs a secure context, and schools run plain http too.
  function newKey() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function setStatus(text) {
    statusLine.textContent = text || "";
    statusLine.hidden = !text;
  }

  function formatTime(iso) {
    const when = new Date(iso);
    const today = new Date().toDateString() === when.toDateString();
    return today
      ? when.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" })
      : when.toLocaleString(lang, { dateStyle: "short", timeStyle: "short" });
  }

  function formatSize(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- rendering -------------------------------------------------------------------------
  function build(message) {
    const own = message.author.id === userId;
    const li = element("li", "msg" + (own ? " own" : "") + (message.deleted ? " deleted" : ""));
    li.dataset.id = message.id;
    const meta = element("div", "msg-meta");
    meta.append(element("strong", "msg-author", own ? strings.you : message.author.name), " ");
    const time = element("time", "muted", formatTime(message.created));
    time.dateTime = message.created;
    meta.append(time);
    if (message.edited && !message.deleted) meta.append(" ", element("span", "muted", "(" + strings.edited + ")"));
    li.append(meta);
    const body = element("div", "msg-body");
    if (message.deleted) {
      body.append(element("em", "muted", strings.deleted));
    } else {
      body.innerHTML = message.html; // sanitized on the server (nh3)
    }
    li.append(body);
    if (message.attachment) {
      const link = element("a", "msg-attachment", "📎 " + message.attachment.name +
        " (" + formatSize(message.attachment.size) + ")");
      link.href = message.attachment.url;
      li.append(link);
    }
    if (!message.deleted && (own || isModerator)) {
      const actions = element("div", "msg-actions");
      if (own) {
        const edit = element("button", "link", strings.edit);
        edit.type = "button";
        edit.addEventListener("click", () => startEdit(li, message));
        actions.append(edit, " ");
      }
      const remove = element("button", "link", strings.delete);
      remove.type = "button";
      remove.addEventListener("click", () => {
        if (window.confirm(strings.confirmDelete)) act("delete", message.id);
      });
      actions.append(remove);
      li.append(actions);
    }
    return li;
  }

  function place(message) {
    if (message.room !== roomId) return;
    const stick = nearBottom();
    const li = build(message);
    const existing = shown.get(message.id);
    if (existing) {
      existing.replaceWith(li);
    } else if (message.id > lastId) {
      const firstPending = log.querySelector(".pending");
      log.insertBefore(li, firstPending);
    } else {
      const later = Array.from(log.children).find((node) => Number(node.dataset.id) > message.id);
      log.insertBefore(li, later || log.querySelector(".pending"));
    }
    shown.set(message.id, li);
    if (message.author.id === userId && pending.has(message.key)) {
      pending.get(message.key).li.remove();
      pending.delete(message.key);
    }
    lastId = Math.max(lastId, message.id);
    oldestId = oldestId === null ? message.id : Math.min(oldestId, message.id);
    if (stick || message.author.id === userId) scroller.scrollTop = scroller.scrollHeight;
    scheduleRead();
  }

  // --- read state ------------------------------------------------------------------------
  function scheduleRead() {
    if (readTimer || document.visibilityState !== "visible") return;
    readTimer = setTimeout(() => {
      readTimer = null;
      if (lastId <= readUpto) return;
      readUpto = lastId;
      if (socketOpen) {
        socket.send(JSON.stringify({ type: "read", room: roomId, upto: readUpto }));
      } else {
        api(root.dataset.readUrl, { upto: readUpto }).catch(() => { readUpto = 0; });
      }
    }, 1000);
  }
  document.addEventListener("visibilitychange", scheduleRead);

  // --- sending ---------------------------------------------------------------------------
  function queue(text, attachment) {
    const key = newKey();
    const li = element("li", "msg own pending");
    li.append(element("div", "msg-meta", strings.you), element("div", "msg-body", text));
    const state = element("div", "msg-state muted", strings.sending);
    li.append(state);
    log.append(li);
    scroller.scrollTop = scroller.scrollHeight;
    pending.set(key, { text, attachment, li, state, tries: 0, failed: false });
    transmit(key);
  }

  function transmit(key) {
    const item = pending.get(key);
    if (!item || item.failed) return;
    const frame = { text: item.text, key: key };
    if (item.attachment) frame.attachment = item.attachment;
    if (socketOpen) {
      socket.send(JSON.stringify(Object.assign({ type: "send", room: roomId }, frame)));
      return; // the ack (or, after a drop, the resend on reconnect) settles it
    }
    api(root.dataset.sendUrl, frame).then(({ ok, status, json, retryAfterMs }) => {
      if (ok) place(json.message);
      else if (status >= 400 && status < 500) refuse(key, json.message);
      else retryLater(key, retryAfterMs);
    }, () => retryLater(key, 0));
  }

  function retryLater(key, floorMs) {
    const item = pending.get(key);
    if (!item) return;
    item.tries += 1;
    setTimeout(() => transmit(key), Math.max(floorMs, 250 + backoff(item.tries, 1000, 30000)));
  }

  // Refused by the server (too long, rate limit, muted…): kept on screen with the reason
  // and a button to try again with the same key.
  function refuse(key, reason) {
    const item = pending.get(key);
    if (!item) return;
    item.failed = true;
    item.li.classList.add("failed");
    item.state.textContent = (reason || strings.failed) + " ";
    const again = element("button", "link", strings.retry);
    again.type = "button";
    again.addEventListener("click", () => {
      item.failed = false;
      item.li.classList.remove("failed");
      item.state.textContent = strings.sending;
      transmit(key);
    });
    item.state.append(again);
  }

  if (form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = textarea.value.trim();
      if (!text) return;
      textarea.value = "";
      queue(text, null);
    });
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !window.matchMedia("(pointer: coarse)").matches) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    // A finished upload is sent at once, with whatever text is typed as its caption.
    form.addEventListener("kreide:uploaded", (event) => {
      const text = textarea.value.trim();
      textarea.value = "";
      queue(text, event.detail.id);
      form.querySelectorAll(".upload-item.done").forEach((item) => item.remove());
    });
  }

  // --- edit and delete -------------------------------------------------------------------
  function act(kind, id, text) {
    if (socketOpen) {
      socket.send(JSON.stringify({ type: kind, id: id, text: text }));
      return;
    }
    const url = messageUrl(kind === "edit" ? root.dataset.editUrl : root.dataset.deleteUrl, id);
    api(url, kind === "edit" ? { text: text } : {}).then(({ ok, json }) => {
      if (ok) place(json.message);
      else setStatus(json.message || strings.error);
    }, () => setStatus(strings.error));
  }

  function startEdit(li, message) {
    const box = element("form", "msg-edit");
    const input = element("textarea");
    input.value = message.text;
    input.rows = 3;
    input.maxLength = textarea ? textarea.maxLength : 4000;
    const save = element("button", "primary", strings.save);
    save.type = "submit";
    const cancel = element("button", "", strings.cancel);
    cancel.type = "button";
    cancel.addEventListener("click", () => {
      const fresh = build(message);
      li.replaceWith(fresh);
      shown.set(message.id, fresh);
    });
    box.append(input, save, " ", cancel);
    box.addEventListener("submit", (event) => {
      event.preventDefault();
      act("edit", message.id, input.value);
    });
    li.replaceChildren(box);
    input.focus();
  }

  // --- fetching over HTTP (history, catch-up when polling) ------------------------------
  function loadOlder() {
    const url = root.dataset.messagesUrl + (oldestId ? "?before=" + oldestId : "");
    return api(url).then(({ ok, json }) => {
      if (!ok) throw new Error(String(json.error));
      if (since === null) since = json.now;
      const keepOffset = scroller.scrollHeight - scroller.scrollTop;
      json.messages.slice().reverse().forEach(place);
      if (oldestId !== null) scroller.scrollTop = scroller.scrollHeight - keepOffset;
      olderButton.hidden = !json.more;
    });
  }
  olderButton.addEventListener("click", () => loadOlder().catch(() => setStatus(strings.error)));

  function syncFrame() {
    return JSON.stringify({ type: "sync", room: roomId, after: lastId, since: since });
  }

  // A catch-up batch: new messages, and changes to messages already on the page (older ones
  // not loaded yet show their current state when they are).
  function caughtUp(batch) {
    batch.messages.forEach(place);
    (batch.changed || []).forEach((message) => { if (shown.has(message.id)) place(message); });
    if (!batch.more) since = batch.now;
  }

  function fetchMissed() {
    const url = root.dataset.messagesUrl + "?after=" + lastId +
      (since ? "&since=" + encodeURIComponent(since) : "");
    return api(url).then(({ ok, json, retryAfterMs }) => {
      if (!ok) throw Object.assign(new Error(String(json.error)), { retryAfterMs });
      caughtUp(json);
      return json.more ? fetchMissed().then((n) => n + json.messages.length) : json.messages.length;
    });
  }

  function startPolling() {
    if (polling) return;
    polling = true;
    setStatus(strings.offline);
    pending.forEach((item, key) => transmit(key));
    poll();
  }

  function stopPolling() {
    polling = false;
    clearTimeout(pollTimer);
  }

  // Quick while messages come in, slower when the room is quiet, backing off on errors.
  function poll() {
    if (!polling) return;
    fetchMissed().then((count) => {
      pollFailures = 0;
      pollIdle = count ? 0 : Math.min(pollIdle + 1, 6);
      schedulePoll(2000 + backoff(pollIdle, 500, 15000));
    }, (error) => {
      pollFailures += 1;
      schedulePoll(Math.max(error.retryAfterMs || 0, 2000 + backoff(pollFailures, 2000, 60000)));
    });
  }

  function schedulePoll(delay) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, delay);
  }

  // --- the WebSocket ---------------------------------------------------------------------
  function socketUrl() {
    const configured = root.dataset.wsUrl;
    if (configured.startsWith("/")) {
      return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + configured;
    }
    return configured;
  }

  function handle(frame) {
    switch (frame.type) {
      case "ack":
      case "message":
        place(frame.message);
        break;
      case "sync":
        if (frame.room !== roomId) break;
        caughtUp(frame);
        if (frame.more) socket.send(syncFrame());
        break;
      case "hello": // the server could subscribe this socket: live updates work
        socketAttempt = 0;
        stopPolling();
        setStatus("");
        break;
      case "room":
        if (frame.room === roomId && form && !isModerator) {
          form.hidden = frame.read_only;
          setStatus(frame.read_only ? strings.readOnly : "");
        }
        break;
      case "error":
        if (frame.key && pending.has(frame.key)) refuse(frame.key, frame.message);
        else setStatus(frame.message);
        break;
      default:
        break;
    }
  }

  function connect() {
    if (!("WebSocket" in window)) {
      startPolling();
      return;
    }
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (error) {
      socketDown(false);
      return;
    }
    socket = ws;
    let opened = false;
    let settled = false;
    // A handshake that neither opens nor fails (a proxy that swallows it, a blocked
    // connection) counts as failed after a while.
    const handshakeTimer = setTimeout(() => down(false), 10000);
    function down(wasOpen) {
      if (settled) return;
      settled = true;
      clearTimeout(handshakeTimer);
      socketOpen = false;
      if (socket === ws) socket = null;
      ws.close();
      socketDown(wasOpen);
    }
    ws.addEventListener("open", () => {
      clearTimeout(handshakeTimer);
      opened = true;
      everConnected = true;
      socketOpen = true;
      // Polling and the status line stay until the server's "hello": while Redis is away
      // it accepts the socket only to close it with 4503, which is no live connection.
      ws.send(syncFrame());
      pending.forEach((item, key) => transmit(key));
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      handle(frame);
    });
    ws.addEventListener("close", (event) => {
      // The session ended (4401) or the initial password must be changed first (4403):
      // only pages can help, polling leads there.
      if ((event.code === 4401 || event.code === 4403) && !settled) {
        settled = true;
        clearTimeout(handshakeTimer);
        socketOpen = false;
        socket = null;
        startPolling();
        return;
      }
      // 4503: live updates are interrupted on the server (Redis away): reconnect with
      // backoff like after any drop; attempts count on until a "hello", so polling
      // takes over meanwhile.
      down(opened);
    });
  }

  // Reconnect with backoff and jitter. A socket that never opened means polling right away;
  // after a working socket dropped, poll once a few reconnects have failed.
  function socketDown(wasOpen) {
    socketAttempt += 1;
    if (wasOpen) setStatus(strings.reconnecting);
    if (!everConnected || socketAttempt >= 3) startPolling();
    setTimeout(connect, 500 + backoff(socketAttempt, 1000, 60000));
  }

  // With the in-process channel layer of the embedded setup, messages sent over HTTP do
  // not reach the socket process: an open chat also asks for news now and then.
  const resync = Number(root.dataset.resync || 0);
  if (resync) {
    setInterval(() => {
      if (socketOpen) socket.send(syncFrame());
    }, resync * 1000);
  }

  loadOlder().then(connect, () => {
    setStatus(strings.error);
    connect();
  });
})();
