// The console page: forms around switchyard.js. Everything it does goes
// through an ordinary WAMP session, so the realm's rules apply to it.
import { connect, auth, messageNames, WampError, Result } from "/switchyard.js";

const $ = (id) => document.getElementById(id);
const body = document.body;
const MAX_LOG = 500;
const MAX_FEED = 200;
const MAX_META = 200;

let session = null;
let pendingCall = null;
let metaTimer = 0;

// ------------------------------------------------------------ helpers

function text(v) {
  try {
    return JSON.stringify(v, (_k, x) => {
      if (x instanceof Uint8Array) return "<" + x.length + " bytes>";
      return typeof x === "bigint" ? x.toString() : x;
    });
  } catch (_) {
    return String(v);
  }
}

/** describe turns an error into one readable line: "URI: message". */
function describe(e) {
  if (e instanceof WampError) {
    let s = e.uri;
    if (Array.isArray(e.args) && e.args.length) s += ": " + e.args.map((a) => (typeof a === "string" ? a : text(a))).join(" ");
    if (e.kwargs && Object.keys(e.kwargs).length) s += " " + text(e.kwargs);
    return s;
  }
  return String((e && e.message) || e);
}

function show(id, msg, ok) {
  const el = $(id);
  el.textContent = msg;
  el.className = "result " + (ok ? "ok" : "err");
}

function push(list, line, max = MAX_FEED) {
  const li = document.createElement("li");
  li.textContent = line;
  list.prepend(li);
  while (list.children.length > max) list.lastChild.remove();
  return li;
}

function parseJSON(id, want) {
  const raw = $(id).value.trim();
  if (raw === "") return want === "array" ? [] : {};
  let v;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new Error(id + ": not JSON: " + e.message);
  }
  if (want === "array" && !Array.isArray(v)) throw new Error(id + ": must be a JSON array");
  if (want === "object" && (v === null || typeof v !== "object" || Array.isArray(v))) throw new Error(id + ": must be a JSON object");
  return v;
}

function time() {
  return new Date().toISOString().slice(11, 23);
}

// ------------------------------------------------------------ message log

function logMessage(dir, msg) {
  const li = document.createElement("li");
  li.className = dir;
  const type = msg[0];
  const d = document.createElement("span");
  d.className = "dir";
  d.textContent = dir === "out" ? "→" : "←";
  const n = document.createElement("span");
  n.className = "name";
  n.textContent = messageNames[type] || String(type);
  // AUTHENTICATE carries the ticket itself for ticket auth: never show it.
  let rest = text(type === 5 ? [5, "‹signature hidden›", ...msg.slice(2)] : msg);
  if (rest.length > 2000) rest = rest.slice(0, 2000) + "…";
  li.append(time() + " ", d, n, rest);
  if (type === 8 || type === 3) {
    // ERROR [8, type, request, details, uri, args?] / ABORT [3, details, reason]
    li.classList.add("err");
    const uri = type === 8 ? msg[4] : msg[2];
    const reason = type === 8 ? (msg[5] && msg[5][0]) : (msg[1] && msg[1].message);
    const what = type === 8 ? "error on " + (messageNames[msg[1]] || msg[1]) : "session aborted";
    li.append("\n   " + what + ": " + uri + (reason ? " — " + (typeof reason === "string" ? reason : text(reason)) : ""));
  }
  const log = $("log");
  log.prepend(li);
  while (log.children.length > MAX_LOG) log.lastChild.remove();
}

function logNote(line, isError) {
  const li = push($("log"), time() + " " + line, MAX_LOG);
  li.className = isError ? "err" : "note";
}

// ------------------------------------------------------------ connection

function setState(state, s) {
  body.dataset.state = state;
  const connected = state === "connected";
  if (connected) {
    body.dataset.sessionId = String(s.id);
  } else {
    delete body.dataset.sessionId;
  }
  $("status").textContent = connected ? "Connected to " + s.realm + " as session " + s.id : state === "connecting" ? "Connecting…" : "Disconnected";
  $("session-id").textContent = connected ? String(s.id) : "–";
  $("session-authid").textContent = connected ? s.authid : "–";
  $("session-authrole").textContent = connected ? s.authrole : "–";
  $("session-authmethod").textContent = connected ? s.authmethod : "–";
  $("connect").disabled = state !== "disconnected";
  $("disconnect").disabled = state === "disconnected";
  for (const el of document.querySelectorAll(".needs-session")) el.disabled = !connected;
  if (!connected) {
    $("cancel").disabled = true;
    pendingCall = null;
    for (const id of ["subscriptions", "registrations", "meta-sessions", "meta-registrations", "meta-subscriptions"]) $(id).replaceChildren();
    for (const id of ["meta-sessions-count", "meta-registrations-count", "meta-subscriptions-count"]) $(id).textContent = "";
  }
}

function authChanged() {
  const m = $("authmethod").value;
  body.classList.toggle("auth-secret", m !== "anonymous");
  $("secret-label").textContent = { ticket: "Ticket", wampcra: "Secret", cryptosign: "Private key (hex seed)" }[m] || "Secret";
}

async function authOptions() {
  const m = $("authmethod").value;
  const authid = $("authid").value.trim();
  const secret = $("secret").value;
  switch (m) {
    case "ticket": return auth.ticket(authid, secret);
    case "wampcra": return auth.wampcra(authid, secret);
    case "cryptosign": return auth.cryptosign(authid, secret.trim());
    default: {
      const a = auth.anonymous();
      if (authid) a.authid = authid;
      return a;
    }
  }
}

async function doConnect() {
  if (session) return;
  $("connect-error").textContent = "";
  setState("connecting");
  const realm = $("realm").value.trim();
  const url = $("url").value.trim();
  logNote("connecting to " + url + " (realm " + realm + ", " + $("authmethod").value + ")");
  try {
    const a = await authOptions();
    const s = await connect({
      url, realm, serializer: $("serializer").value, ...a,
      onmessage: logMessage,
      onclose: (info) => {
        logNote("session closed" + (info.reason ? ": " + info.reason : "") + " (WebSocket code " + info.code + ")", !!info.reason && info.reason !== "wamp.close.goodbye_and_out" && info.reason !== "wamp.close.close_realm");
        if (session === s) session = null;
        setState("disconnected");
      },
    });
    session = s;
    setState("connected", s);
    logNote("joined realm " + s.realm + " as session " + s.id + " (authid " + s.authid + ", authrole " + s.authrole + ")");
    startMeta(s);
  } catch (e) {
    session = null;
    setState("disconnected");
    $("connect-error").textContent = describe(e);
    logNote("could not join: " + describe(e), true);
  }
}

async function doDisconnect() {
  if (!session) return;
  const s = session;
  await s.close();
}

// ------------------------------------------------------------ pubsub

async function doSubscribe() {
  const s = session;
  const topic = $("sub-topic").value.trim();
  const match = $("sub-match").value;
  const options = match === "exact" ? {} : { match };
  try {
    const sub = await s.subscribe(topic, (args, kwargs, details) => {
      const from = details.publisher ? " from " + details.publisher : "";
      const t = details.topic || topic;
      push($("events"), time() + " " + t + from + " args=" + text(args) + " kwargs=" + text(kwargs));
    }, options);
    show("sub-result", "subscribed to " + topic + " (" + match + "), subscription " + sub.id, true);
    const li = document.createElement("li");
    li.dataset.subscription = String(sub.id);
    const label = document.createElement("span");
    label.textContent = topic + " (" + match + ") #" + sub.id;
    const btn = document.createElement("button");
    btn.type = "button";
    btn.textContent = "Unsubscribe";
    btn.addEventListener("click", async () => {
      try {
        await sub.unsubscribe();
        li.remove();
        show("sub-result", "unsubscribed from " + topic, true);
      } catch (e) {
        show("sub-result", "unsubscribe failed: " + describe(e), false);
      }
    });
    li.append(label, btn);
    $("subscriptions").append(li);
  } catch (e) {
    show("sub-result", "subscribe failed: " + describe(e), false);
  }
}

async function doPublish() {
  const s = session;
  try {
    const topic = $("pub-topic").value.trim();
    const args = parseJSON("pub-args", "array");
    const kwargs = parseJSON("pub-kwargs", "object");
    const acknowledge = $("pub-acknowledge").checked;
    const res = await s.publish(topic, args, kwargs, { exclude_me: $("pub-exclude-me").checked, acknowledge });
    show("pub-result", acknowledge ? "published to " + topic + ", publication " + res.publication : "sent to " + topic + " (not acknowledged)", true);
  } catch (e) {
    show("pub-result", "publish failed: " + describe(e), false);
  }
}

// ------------------------------------------------------------ rpc

async function doRegister() {
  const s = session;
  try {
    const procedure = $("reg-procedure").value.trim();
    const mode = $("reg-mode").value;
    let fixed;
    if (mode === "fixed") {
      try {
        fixed = JSON.parse($("reg-answer").value);
      } catch (e) {
        throw new Error("reg-answer: not JSON: " + e.message);
      }
    }
    const reg = await s.register(procedure, (args, kwargs, details) => {
      const from = details.caller ? " from " + details.caller : "";
      push($("invocations"), time() + " " + procedure + from + " args=" + text(args) + " kwargs=" + text(kwargs));
      return mode === "fixed" ? fixed : new Result(args, kwargs);
    });
    show("reg-result", "registered " + procedure + ", registration " + reg.id, true);
    const li = document.createElement("li");
    li.dataset.registration = String(reg.id);
    const label = document.createElement("span");
    label.textContent = procedure + " (" + mode + ") #" + reg.id;
    const btn = document.createElement("button");
    btn.type = "button";
    btn.textContent = "Unregister";
    btn.addEventListener("click", async () => {
      try {
        await reg.unregister();
        li.remove();
        show("reg-result", "unregistered " + procedure, true);
      } catch (e) {
        show("reg-result", "unregister failed: " + describe(e), false);
      }
    });
    li.append(label, btn);
    $("registrations").append(li);
  } catch (e) {
    show("reg-result", "register failed: " + describe(e), false);
  }
}

async function doCall() {
  const s = session;
  try {
    const procedure = $("call-procedure").value.trim();
    const args = parseJSON("call-args", "array");
    const kwargs = parseJSON("call-kwargs", "object");
    const timeout = parseInt($("call-timeout").value, 10) || 0;
    const options = {};
    if (timeout > 0) options.timeout = timeout;
    $("call-progress-list").replaceChildren();
    if ($("call-progress").checked) {
      options.onProgress = (r) => push($("call-progress-list"), time() + " progress args=" + text(r.args) + " kwargs=" + text(r.kwargs));
    }
    show("call-result", "calling " + procedure + "…", true);
    const p = s.call(procedure, args, kwargs, options);
    pendingCall = p;
    $("cancel").disabled = false;
    try {
      const r = await p;
      show("call-result", "result args=" + text(r.args) + " kwargs=" + text(r.kwargs), true);
    } finally {
      if (pendingCall === p) {
        pendingCall = null;
        $("cancel").disabled = true;
      }
    }
  } catch (e) {
    show("call-result", "call failed: " + describe(e), false);
  }
}

// ------------------------------------------------------------ realm view (meta API)

const META_TOPICS = [
  "wamp.session.on_join", "wamp.session.on_leave",
  "wamp.registration.on_register", "wamp.registration.on_unregister",
  "wamp.subscription.on_subscribe", "wamp.subscription.on_unsubscribe",
];

async function startMeta(s) {
  const refresh = () => {
    clearTimeout(metaTimer);
    metaTimer = setTimeout(() => refreshMeta(s), 150);
  };
  const refused = [];
  for (const t of META_TOPICS) {
    try {
      await s.subscribe(t, refresh);
    } catch (e) {
      refused.push(t + " (" + describe(e) + ")");
    }
  }
  if (refused.length) logNote("meta events not available to this role: " + refused.join(", "));
  await refreshMeta(s);
}

async function metaCall(s, proc, args) {
  const r = await s.call(proc, args);
  return r.args[0];
}

function fillList(id, items) {
  const ul = $(id);
  ul.replaceChildren(...items.slice(0, MAX_META).map((line) => {
    const li = document.createElement("li");
    li.textContent = line;
    return li;
  }));
  $(id + "-count").textContent = "(" + items.length + ")";
}

async function refreshMeta(s) {
  if (session !== s || !s.isOpen) return;
  const problems = [];
  try {
    const ids = await metaCall(s, "wamp.session.list", []);
    const lines = await Promise.all(ids.slice(0, MAX_META).map(async (id) => {
      try {
        const d = await metaCall(s, "wamp.session.get", [id]);
        return id + " " + (d.authid || "") + " (" + (d.authrole || "") + ")" + (id === s.id ? " ← this page" : "");
      } catch (_) {
        return String(id) + " (gone)";
      }
    }));
    fillList("meta-sessions", lines);
  } catch (e) {
    problems.push("sessions: " + describe(e));
  }
  for (const kind of ["registration", "subscription"]) {
    try {
      const byMatch = await metaCall(s, "wamp." + kind + ".list", []);
      const lines = [];
      for (const match of ["exact", "prefix", "wildcard"]) {
        for (const id of (byMatch[match] || []).slice(0, MAX_META)) {
          try {
            const d = await metaCall(s, "wamp." + kind + ".get", [id]);
            lines.push(d.uri + (match === "exact" ? "" : " (" + match + ")") + " #" + id);
          } catch (_) {
            // removed between list and get
          }
        }
      }
      fillList("meta-" + kind + "s", lines);
    } catch (e) {
      problems.push(kind + "s: " + describe(e));
    }
  }
  if (problems.length) show("meta-status", "not readable with this role — " + problems.join("; "), false);
  else show("meta-status", "updated " + time(), true);
}

// ------------------------------------------------------------ wiring

function on(id, event, fn) {
  $(id).addEventListener(event, (ev) => {
    ev.preventDefault();
    Promise.resolve(fn()).catch((e) => logNote(describe(e), true));
  });
}

function init() {
  const params = new URLSearchParams(location.search);
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  $("url").value = params.get("url") || scheme + (location.host || "127.0.0.1:8080") + "/";
  if (params.get("realm")) $("realm").value = params.get("realm");
  const ser = params.get("serializer");
  if (ser && [...$("serializer").options].some((o) => o.value === ser)) $("serializer").value = ser;
  const m = params.get("authmethod");
  if (m && [...$("authmethod").options].some((o) => o.value === m)) $("authmethod").value = m;
  if (params.get("authid")) $("authid").value = params.get("authid");
  authChanged();
  setState("disconnected");

  $("authmethod").addEventListener("change", authChanged);
  on("connect-form", "submit", doConnect);
  on("disconnect", "click", doDisconnect);
  on("subscribe-form", "submit", () => session && doSubscribe());
  on("publish-form", "submit", () => session && doPublish());
  on("register-form", "submit", () => session && doRegister());
  on("call-form", "submit", () => session && doCall());
  on("cancel", "click", () => pendingCall && pendingCall.cancel("kill"));
  on("meta-refresh", "click", () => session && refreshMeta(session));
  on("log-clear", "click", () => $("log").replaceChildren());

  // Deep link: /?realm=realm1&connect=1 joins at once (anonymously, unless
  // authmethod= names another method; secrets never come from the URL).
  if (params.get("connect") === "1" && $("authmethod").value === "anonymous") doConnect();
}

init();
