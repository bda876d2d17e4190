// The video lesson page: publish into the lesson's Janus VideoRoom with the join token
// Kreide issued, subscribe to everyone else, poll the lesson state (participants, hands,
// chat, teacher actions), and reconnect with backoff + jitter after a network drop.
// Needs Debian's janus.js (global Janus) and adapter.js; configuration comes from data-.
"use strict";
(function () {
  const root = document.querySelector("[data-video-room]");
  if (!root || typeof Janus === "undefined") return;
  const cfg = root.dataset;
  const labels = root.querySelector("[data-labels]").dataset;
  const $ = (selector) => root.querySelector(selector);
  const room = Number(cfg.room);
  const me = Number(cfg.participant);
  const isTeacher = cfg.teacher === "1";

  let session = null;
  let publisher = null;
  let privateId = null;
  // Reconnect attempts survive the reload that rejoins, so the backoff keeps growing; kept
  // per lesson, not per room (a room Janus lost is made again under a new number), and
  // forgotten only once media flows.
  const attemptKey = `kreide-video-attempt-${cfg.admitUrl}`;
  let attempt = Number(window.sessionStorage.getItem(attemptKey) || 0);
  let reconnectTimer = null;
  let videoAllowed = cfg.video === "1";
  let micMuted = false;
  let cameraOff = false;
  let sharing = false;
  let handRaised = false;
  let lastMuteAll = null;
  let lastChat = 0;
  let finished = false;
  const feeds = new Map(); // feed id -> {handle, tile}

  function csrfPost(url, data, json) {
    const body = new URLSearchParams(data || {});
    return fetch(url, {
      method: "POST", body, credentials: "same-origin",
      headers: { "X-CSRFToken": cfg.csrf, Accept: json ? "application/json" : "text/html" },
    });
  }

  function setConnection(text, ok) {
    const badge = $("[data-connection]");
    badge.textContent = text;
    badge.classList.toggle("ok", !!ok);
    badge.classList.toggle("warn", !ok);
  }

  function notice(text) {
    const box = $("[data-room-notice]");
    box.textContent = text || "";
    box.hidden = !text;
  }

  // --- Media --------------------------------------------------------------------------
  function deviceConstraint(select) {
    return select.value ? { deviceId: { exact: select.value } } : true;
  }

  function publishTracks() {
    const tracks = [{ type: "audio", capture: deviceConstraint($("[data-microphone]")), recv: false }];
    if (videoAllowed) {
      tracks.push({ type: "video", capture: deviceConstraint($("[data-camera]")), recv: false });
    }
    return tracks;
  }

  function publish(tracks) {
    publisher.createOffer({
      tracks,
      success: (jsep) => {
        publisher.send({ message: { request: "configure", audio: true, video: videoAllowed }, jsep });
      },
      error: () => {
        notice(labels.noMedia);
        // Receive-only is still a full participant: listen and chat.
        publisher.send({ message: { request: "configure", audio: false, video: false } });
      },
    });
  }

  function mid(kind) {
    const pc = publisher && publisher.webrtcStuff.pc;
    if (!pc) return null;
    const transceiver = pc.getTransceivers().find(
      (t) => t.sender && t.sender.track && t.sender.track.kind === kind);
    return transceiver ? transceiver.mid : null;
  }

  function tileFor(feed, name) {
    const tile = document.createElement("figure");
    tile.className = "video-tile";
    tile.dataset.feed = feed;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    const audio = document.createElement("audio");
    audio.autoplay = true;
    const caption = document.createElement("figcaption");
    caption.textContent = name;
    tile.append(video, audio, caption);
    $("[data-videos]").append(tile);
    return tile;
  }

  // A publisher's active streams: when they change (a student called on adds video, screen
  // sharing starts), the subscription is made again so the new stream is received.
  function streamsOf(publisher) {
    return (publisher.streams || []).filter((s) => !s.disabled).map((s) => `${s.type}:${s.mid}`).join(",");
  }

  function onPublishers(list) {
    for (const p of list || []) {
      const existing = feeds.get(p.id);
      if (existing && existing.streams !== streamsOf(p)) unsubscribe(p.id);
      subscribe(p.id, p.display, streamsOf(p));
    }
  }

  function subscribe(feed, name, streams) {
    if (feeds.has(feed) || feed === me) return;
    const entry = { handle: null, tile: tileFor(feed, name), streams };
    feeds.set(feed, entry);
    session.attach({
      plugin: "janus.plugin.videoroom",
      success: (handle) => {
        entry.handle = handle;
        handle.send({ message: {
          request: "join", ptype: "subscriber", room, streams: [{ feed }],
          private_id: privateId, token: cfg.token,
        } });
      },
      error: () => unsubscribe(feed),
      webrtcState: (up) => { if (up) mediaFlows(); },
      onmessage: (msg, jsep) => {
        if (jsep) {
          entry.handle.createAnswer({
            jsep, tracks: [{ type: "data" }],
            success: (answer) => entry.handle.send({ message: { request: "start", room }, jsep: answer }),
          });
        }
      },
      onremotetrack: (track, trackMid, on) => {
        const element = entry.tile.querySelector(track.kind === "video" ? "video" : "audio");
        if (!on) {
          if (track.kind === "video") entry.tile.classList.add("no-video");
          return;
        }
        if (track.kind === "video") entry.tile.classList.remove("no-video");
        element.srcObject = new MediaStream([track]);
      },
      oncleanup: () => {},
    });
  }

  function unsubscribe(feed) {
    const entry = feeds.get(feed);
    if (!entry) return;
    feeds.delete(feed);
    if (entry.handle) entry.handle.detach();
    entry.tile.remove();
  }

  function onPublisherMessage(msg, jsep) {
    const event = msg.videoroom;
    if (event === "joined") {
      privateId = msg.private_id;
      setConnection(labels.connected, true);
      publish(publishTracks());
      onPublishers(msg.publishers);
    } else if (event === "event") {
      onPublishers(msg.publishers);
      if (msg.unpublished) unsubscribe(Number(msg.unpublished));
      if (msg.leaving) unsubscribe(Number(msg.leaving));
      if (msg.error_code || msg.leaving === "ok") reconnect();
    } else if (event === "destroyed") {
      stop(labels.ended);
    }
    if (jsep) publisher.handleRemoteJsep({ jsep });
  }

  function connect() {
    setConnection(attempt ? labels.reconnecting : labels.connecting, false);
    session = new Janus({
      server: cfg.server,
      success: () => session.attach({
        plugin: "janus.plugin.videoroom",
        success: (handle) => {
          publisher = handle;
          handle.send({ message: {
            request: "join", ptype: "publisher", room, id: me, display: cfg.display,
            token: cfg.token,
          } });
        },
        error: reconnect,
        onmessage: onPublisherMessage,
        onlocaltrack: (track, on) => {
          if (track.kind !== "video") return;
          $("[data-local-video]").srcObject = on ? new MediaStream([track]) : null;
        },
        iceState: (state) => { if (state === "failed") reconnect(); },
        webrtcState: (up) => { if (up) mediaFlows(); else reconnect(); },
        onremotetrack: () => {},
      }),
      error: reconnect,
      destroyed: () => {},
    });
  }

  // After a drop: wait with exponential backoff and full jitter, ask Kreide whether we are
  // still admitted, then rejoin through a fresh page.
  let reconnectFloorMs = 0; // from the last Retry-After: the server said when to come back

  // A joined room is not enough (media may fail at once, again and again): the backoff
  // starts over only when a peer connection is up.
  function mediaFlows() {
    attempt = 0;
    window.sessionStorage.removeItem(attemptKey);
  }

  // Half fixed, half jitter: each pause is at least half its ceiling, so pauses grow for
  // certain (1 s, 2 s, 4 s … 30 s) while a class still spreads out.
  function reconnectDelay(count) {
    const ceiling = Math.min(30000, 1000 * Math.pow(2, count));
    return ceiling / 2 + Math.random() * ceiling / 2;
  }

  function reconnect() {
    if (finished || reconnectTimer) return;
    setConnection(labels.reconnecting, false);
    for (const feed of Array.from(feeds.keys())) unsubscribe(feed);
    try { if (session) session.destroy({ cleanupHandles: true, notifyDestroyed: false }); } catch (e) { /* gone */ }
    session = null;
    publisher = null;
    const delay = Math.max(reconnectFloorMs, reconnectDelay(attempt++));
    reconnectFloorMs = 0;
    reconnectTimer = window.setTimeout(async () => {
      reconnectTimer = null;
      try {
        const response = await csrfPost(cfg.admitUrl, {}, true);
        if (response.status === 200) {
          // Still admitted: reload for the current room and token (Janus may have restarted
          // and Kreide made a new room). `finished` keeps pagehide from leaving the lesson.
          finished = true;
          window.sessionStorage.setItem(attemptKey, String(attempt));
          window.location.reload();
          return;
        }
        if (response.status === 202) { window.location.assign(`${cfg.detailUrl}waiting/`); return; }
        if (response.status >= 400 && response.status !== 503) { window.location.assign(cfg.detailUrl); return; }
        reconnectFloorMs = Kreide.retryAfterMs(response.headers.get("Retry-After")) || 0;
      } catch (e) { /* still offline */ }
      reconnect();
    }, delay);
  }

  function stop(message) {
    finished = true;
    notice(message);
    setConnection(message, false);
    for (const feed of Array.from(feeds.keys())) unsubscribe(feed);
    try { if (session) session.destroy(); } catch (e) { /* gone */ }
  }

  // --- Controls -----------------------------------------------------------------------
  function press(button, pressed, onText, offText) {
    button.setAttribute("aria-pressed", pressed ? "true" : "false");
    button.textContent = pressed ? onText : offText;
  }

  function setMic(muted) {
    micMuted = muted;
    if (publisher) { if (muted) publisher.muteAudio(); else publisher.unmuteAudio(); }
    press($("[data-toggle-mic]"), muted, labels.unmute, labels.mute);
  }

  $("[data-toggle-mic]").addEventListener("click", () => setMic(!micMuted));
  $("[data-toggle-camera]").addEventListener("click", () => {
    cameraOff = !cameraOff;
    if (publisher) { if (cameraOff) publisher.muteVideo(); else publisher.unmuteVideo(); }
    press($("[data-toggle-camera]"), cameraOff, labels.cameraOn, labels.cameraOff);
  });
  $("[data-camera]").addEventListener("change", () => {
    if (publisher && videoAllowed && !sharing) {
      publisher.replaceTracks({ tracks: [{ type: "video", mid: mid("video"), capture: deviceConstraint($("[data-camera]")) }] });
    }
  });
  $("[data-microphone]").addEventListener("change", () => {
    if (publisher) {
      publisher.replaceTracks({ tracks: [{ type: "audio", mid: mid("audio"), capture: deviceConstraint($("[data-microphone]")) }] });
    }
  });
  const screenButton = $("[data-screen]");
  if (screenButton) {
    screenButton.addEventListener("click", () => {
      if (!publisher) return;
      const videoMid = mid("video");
      const track = sharing
        ? { type: "video", capture: deviceConstraint($("[data-camera]")) }
        : { type: "screen", capture: true };
      if (videoMid) track.mid = videoMid; else track.add = true;
      const done = () => { sharing = !sharing; press(screenButton, sharing, labels.stopShare, labels.share); };
      if (videoMid) {
        publisher.replaceTracks({ tracks: [track], success: done, error: (e) => notice(String(e)) });
      } else {
        publisher.createOffer({ tracks: [track], success: (jsep) => {
          publisher.send({ message: { request: "configure", video: true }, jsep });
          done();
        } });
      }
    });
  }
  $("[data-hand]").addEventListener("click", () => {
    handRaised = !handRaised;
    press($("[data-hand]"), handRaised, labels.lower, labels.raise);
    csrfPost(cfg.handUrl, { raised: handRaised ? "1" : "0" }, true);
  });
  const muteAll = $("[data-mute-all]");
  if (muteAll) muteAll.addEventListener("click", () => csrfPost(cfg.controlUrl.replace("ACTION", "mute-all"), {}, true));
  $("[data-chat-form]").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = event.target.elements.text;
    const text = input.value;
    if (!text.trim()) return;
    const response = await csrfPost(cfg.chatUrl, { text }, true);
    if (response.ok) { input.value = ""; poll(); }
  });
  window.addEventListener("pagehide", () => {
    if (!finished) navigator.sendBeacon(cfg.leaveUrl, new URLSearchParams({ csrfmiddlewaretoken: cfg.csrf }));
  });

  // --- Lesson state (participants, hands, chat, teacher actions); also the heartbeat ---
  function renderParticipants(people) {
    const list = $("[data-participants]");
    list.replaceChildren();
    $("[data-count]").textContent = String(people.length);
    for (const person of people) {
      const item = document.createElement("li");
      let text = person.id === me ? `${person.name} (${labels.you})` : person.name;
      if (person.teacher) text += ` · ${labels.teacherLabel}`;
      item.textContent = text;
      if (person.hand) {
        const hand = document.createElement("span");
        hand.className = "badge warn";
        hand.textContent = labels.handLabel;
        item.append(" ", hand);
      }
      if (isTeacher && !person.teacher) {
        const actions = [[person.video ? "call-off" : "call-on", person.video ? labels.callOff : labels.callOn],
          ["remove", labels.remove]];
        for (const [action, label] of actions) {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "link";
          button.textContent = label;
          button.addEventListener("click", () => csrfPost(cfg.controlUrl.replace("ACTION", action), { participant: person.id }, true).then(poll));
          item.append(" ", button);
        }
      }
      list.append(item);
    }
  }

  function renderChat(messages) {
    const list = $("[data-chat]");
    for (const message of messages) {
      lastChat = Math.max(lastChat, message.id);
      const item = document.createElement("li");
      const who = document.createElement("strong");
      who.textContent = `${message.author} (${message.time}): `;
      item.append(who, message.text);
      list.append(item);
    }
    if (messages.length) list.scrollTop = list.scrollHeight;
  }

  function applyState(state) {
    if (state.status === "ended") { stop(labels.ended); return; }
    if (state.me.state === "removed") { stop(labels.removed); return; }
    if (state.server_lost) { notice(labels.serverLost); reconnect(); return; }
    if (lastMuteAll !== null && state.mute_all !== lastMuteAll && !isTeacher) {
      setMic(true);
      notice(labels.mutedByTeacher);
    }
    lastMuteAll = state.mute_all;
    if (state.me.video_allowed !== videoAllowed && publisher) {
      videoAllowed = state.me.video_allowed;
      $("[data-toggle-camera]").disabled = !videoAllowed;
      const videoMid = mid("video");
      const track = videoAllowed
        ? { type: "video", capture: deviceConstraint($("[data-camera]")), add: true }
        : { type: "video", mid: videoMid, remove: true };
      publish([track]);
    }
    handRaised = state.me.hand;
    press($("[data-hand]"), handRaised, labels.lower, labels.raise);
    renderParticipants(state.participants);
    renderChat(state.chat);
  }

  // Consecutive failed polls: an overloaded or unreachable server is asked less and less
  // often (honouring Retry-After), a healthy one every 4-6 s.
  let pollFailures = 0;
  let pollFloorMs = 0;

  async function poll() {
    try {
      const response = await fetch(`${cfg.stateUrl}?after=${lastChat}`, { credentials: "same-origin" });
      if (response.ok) {
        applyState(await response.json());
        pollFailures = 0;
        pollFloorMs = 0;
        return;
      }
      pollFloorMs = Kreide.retryAfterMs(response.headers.get("Retry-After")) || 0;
    } catch (e) { /* offline: the media reconnect handles the media side */ }
    pollFailures++;
  }

  function schedulePoll() {
    if (finished) return;
    // 4-6 s with jitter: a class of 30 spreads its polls instead of sending them together.
    const backoff = pollFailures ? Kreide.backoffDelay(pollFailures, 4000, 60000) : 0;
    const delay = Math.max(pollFloorMs, 4000 + Math.random() * 2000 + backoff);
    window.setTimeout(() => poll().then(schedulePoll), delay);
  }

  // --- Start --------------------------------------------------------------------------
  Janus.init({
    debug: false,
    dependencies: Janus.useDefaultDependencies(),
    callback: () => {
      Janus.listDevices((devices) => {
        for (const [kind, selector] of [["videoinput", "[data-camera]"], ["audioinput", "[data-microphone]"]]) {
          const select = $(selector);
          devices.filter((d) => d.kind === kind).forEach((device, index) => {
            select.append(new Option(device.label || `${kind} ${index + 1}`, device.deviceId));
          });
        }
        connect();
      });
    },
  });
  poll().then(schedulePoll);

  // For tests and diagnostics: decoded video frames of all subscriptions (from getStats).
  window.KreideVideo = {
    async framesDecoded() {
      let total = 0;
      for (const entry of feeds.values()) {
        const pc = entry.handle && entry.handle.webrtcStuff.pc;
        if (!pc) continue;
        (await pc.getStats()).forEach((report) => {
          if (report.type === "inbound-rtp" && report.kind === "video") total += report.framesDecoded || 0;
        });
      }
      return total;
    },
    feeds: () => feeds.size,
  };
})();
