// Almaty EEW console: plain JavaScript, no build step, no network but its own server.
// The state lives in window.eewConsole (the browser tests read it).
"use strict";
(function () {
  const VP = 6.0, VS = 3.5;            // km/s: wavefronts of a uniform half-space (display only)
  const KM_PER_DEG = 111.195;
  const ALMATY_OFFSET_MS = 5 * 3600e3; // UTC+5 since 2024-03-01
  const ROMAN_COLOURS = { I: "#fff", II: "#e6f0ff", III: "#bfe3ff", IV: "#8fd8f0", V: "#8ff0a0",
    VI: "#ffff6e", VII: "#ffcc33", VIII: "#ff9a1f", IX: "#ff3c1f", X: "#d00000", XI: "#a00000", XII: "#700000", "?": "#eee" };
  const S = {
    stations: {}, states: {}, targets: [], latest: {}, log: [], health: {}, traces: null,
    clock: { now_ms: 0, at: performance.now(), rate: 0, running: false },
    shown: [], messages: 0, mode: "", proj: null, stateChanges: 0,
  };
  window.eewConsole = S;
  const $ = (id) => document.getElementById(id);
  const NS = "http://www.w3.org/2000/svg";
  const token = new URLSearchParams(location.search).get("token");

  function dataNow() {
    return S.clock.now_ms + (performance.now() - S.clock.at) * S.clock.rate;
  }
  S.dataNow = dataNow;
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  function hms(ms, digits) {
    const d = new Date(ms);
    let t = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
    if (digits) t += "." + pad(d.getUTCMilliseconds(), 3).slice(0, digits);
    return t;
  }
  const fmt = (v, d) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));

  // ---- map ----------------------------------------------------------------------------------
  function el(tag, attrs, parent) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function makeProjection(points) {
    let la0 = 90, la1 = -90, lo0 = 180, lo1 = -180;
    for (const [la, lo] of points) {
      la0 = Math.min(la0, la); la1 = Math.max(la1, la); lo0 = Math.min(lo0, lo); lo1 = Math.max(lo1, lo);
    }
    if (la0 > la1) { la0 = 42.5; la1 = 44; lo0 = 75.5; lo1 = 78.5; }
    la0 -= 0.25; la1 += 0.25; lo0 -= 0.35; lo1 += 0.35;
    const latc = (la0 + la1) / 2, lonc = (lo0 + lo1) / 2, c = Math.cos(latc * Math.PI / 180);
    const W = 640, H = 420;
    const k = Math.min(W / ((lo1 - lo0) * c), H / (la1 - la0));
    return {
      k, c, xy: (la, lo) => [W / 2 + (lo - lonc) * c * k, H / 2 - (la - latc) * k],
      km: (r) => (r / KM_PER_DEG) * k,
    };
  }
  function drawMap() {
    const svg = $("map");
    svg.innerHTML = "";
    const pts = [];
    for (const id in S.stations) {
      const s = S.stations[id];
      if (s.latitude_deg !== null) pts.push([s.latitude_deg, s.longitude_deg]);
    }
    for (const t of S.targets) pts.push([t.latitude_deg, t.longitude_deg]);
    const P = (S.proj = makeProjection(pts));
    const gOut = el("g", { id: "outlines" }, svg);
    fetch("static/outlines.json").then((r) => r.json()).then((o) => {
      for (const f of o.outlines) {
        el("polyline", { class: "country", points: f.coordinates.map(([lo, la]) => P.xy(la, lo).join(",")).join(" ") }, gOut);
      }
    }).catch(() => {});
    const gT = el("g", { id: "target-layer" }, svg);
    for (const t of S.targets) {
      const [x, y] = P.xy(t.latitude_deg, t.longitude_deg);
      el("rect", { class: "target", x: x - 2, y: y - 2, width: 4, height: 4 }, gT);
    }
    const gS = el("g", { id: "station-layer" }, svg);
    for (const id in S.stations) {
      const s = S.stations[id];
      if (s.latitude_deg === null) continue;
      const [x, y] = P.xy(s.latitude_deg, s.longitude_deg);
      const shape = s.partner
        ? el("path", { d: `M${x},${y - 7}L${x + 7},${y}L${x},${y + 7}L${x - 7},${y}Z` }, gS)
        : el("circle", { cx: x, cy: y, r: 6 }, gS);
      shape.setAttribute("class", "station nodata");
      shape.setAttribute("id", "st-" + id);
      shape.setAttribute("data-state", "nodata");
      el("title", {}, shape).textContent = id;
    }
    el("g", { id: "event-layer" }, svg);  // above the stations
    // scale bar: 50 km
    const L = P.km(50);
    el("line", { class: "scale", x1: 20, y1: 405, x2: 20 + L, y2: 405 }, svg);
    el("text", { class: "scale-label", x: 20, y: 399 }, svg).textContent = "50 km";
  }
  function stateClass(st) {
    if (st.state === "ok" && st.latency_s !== null && st.latency_s > 2) return "slow";
    return st.state;
  }
  function applyStates(list) {
    const counts = {};
    for (const st of list) {
      const prev = S.states[st.id];
      if (!prev || prev.state !== st.state) S.stateChanges++;
      S.states[st.id] = st;
      counts[st.state] = (counts[st.state] || 0) + 1;
      const e = document.getElementById("st-" + st.id);
      if (!e) continue;
      e.setAttribute("class", "station " + stateClass(st));
      e.setAttribute("data-state", st.state);
      e.firstChild.textContent = `${st.id}: ${st.state.replace("_", " ")}${st.reason ? " (" + st.reason + ")" : ""}` +
        `, latency ${fmt(st.latency_s, 1)} s, last packet ${fmt(st.age_s, 1)} s ago`;
    }
    $("state-counts").textContent = Object.keys(counts).sort().map((k) => `${k.replace("_", " ")} ${counts[k]}`).join(" · ");
  }
  // the event on screen: the newest network (source) alert; an onsite or other alert only
  // while there is none
  function currentAlert() {
    let best = null;
    const rank = (a) => (a.kind === "source" ? 1 : 0);
    for (const k in S.latest) {
      const a = S.latest[k];
      if (!best || rank(a) > rank(best) || (rank(a) === rank(best) && a.received_ms > best.received_ms)) best = a;
    }
    return best;
  }
  function drawEvent(now) {
    const g = $("event-layer");
    if (!g || !S.proj) return;
    g.innerHTML = "";
    const a = currentAlert();
    if (!a || a.latitude_deg === null || a.message_type === "delete") return;
    const P = S.proj, [x, y] = P.xy(a.latitude_deg, a.longitude_deg);
    const t = (now - a.origin_ms) / 1000, h = a.depth_km || 0;
    if (t > 0 && t < 240) {
      const rp = Math.sqrt(Math.max(0, (VP * t) ** 2 - h * h));
      const rs = Math.sqrt(Math.max(0, (VS * t) ** 2 - h * h));
      el("circle", { id: "pfront", class: "pfront", cx: x, cy: y, r: P.km(rp), "data-km": rp.toFixed(1) }, g);
      el("circle", { id: "sfront", class: "sfront", cx: x, cy: y, r: P.km(rs), "data-km": rs.toFixed(1) }, g);
    }
    if (a.horizontal_sigma_km) el("circle", { class: "sigma", cx: x, cy: y, r: Math.max(3, P.km(a.horizontal_sigma_km)) }, g);
    const s = 9, pts = [];
    for (let i = 0; i < 10; i++) {
      const r = i % 2 ? s * 0.45 : s, ang = -Math.PI / 2 + (i * Math.PI) / 5;
      pts.push((x + r * Math.cos(ang)).toFixed(1) + "," + (y + r * Math.sin(ang)).toFixed(1));
    }
    el("polygon", { id: "epicentre", class: "epicentre", points: pts.join(" ") }, g);
  }

  // ---- alert panel and log -------------------------------------------------------------------
  function renderAlert() {
    const a = currentAlert(), head = $("alert-head"), body = $("targets").tBodies[0];
    body.innerHTML = "";
    if (!a) { head.className = "quiet"; head.textContent = "No alert."; return; }
    head.className = "";
    const drill = a.drill ? ' <span class="drilltag" id="drill-flag">DRILL / TEST</span>' : "";
    if (a.message_type === "delete") {
      head.innerHTML = `<span class="big">CANCELLED</span> ${a.agency} ${a.event_id} v${a.version}${drill}`;
      return;
    }
    const mag = `M${a.magnitude_is_lower_bound ? "≥" : ""}${fmt(a.magnitude, 1)}`;
    head.innerHTML = `<span class="big" id="alert-mag">${mag}</span> <b>${a.max_roman}</b> max · ` +
      `${fmt(a.latitude_deg, 3)}N ${fmt(a.longitude_deg, 3)}E ±${fmt(a.horizontal_sigma_km, 0)} km, depth ${fmt(a.depth_km, 0)} km${drill}<br>` +
      `<small>${a.agency} ${a.event_id} v${a.version} ${a.message_type} (${a.kind}) · origin ${hms(a.origin_ms, 1)} UTC / ` +
      `${hms(a.origin_ms + ALMATY_OFFSET_MS, 1)} Almaty · ${a.n_stations} stations</small>`;
    a.targets.forEach((t, i) => {
      const tr = document.createElement("tr");
      tr.innerHTML = `<td>${t.name}</td><td>${fmt(t.distance_km, 0)}</td>` +
        `<td class="msk" style="background:${ROMAN_COLOURS[t.roman] || "#eee"}">${t.roman}</td>` +
        `<td>${fmt(t.pga_cm_s2, 1)}</td><td class="count" id="countdown-${i}" data-target="${t.name}"></td>`;
      body.appendChild(tr);
    });
    tickCountdowns(dataNow());
  }
  function tickCountdowns(now) {
    const a = currentAlert();
    if (!a || !a.targets) return;
    a.targets.forEach((t, i) => {
      const c = document.getElementById("countdown-" + i);
      if (!c) return;
      const left = (t.s_arrival_ms - now) / 1000;
      if (left > 0) { c.textContent = `in ${left.toFixed(1)} s`; c.className = "count"; }
      else { c.textContent = `arrived ${(-left).toFixed(0)} s ago`; c.className = "count arrived"; }
    });
  }
  function renderLog() {
    const body = $("alert-log").tBodies[0];
    body.innerHTML = "";
    for (const a of S.log.slice().reverse()) {
      const tr = document.createElement("tr");
      if (a.message_type === "delete") tr.className = "deleted";
      tr.innerHTML = `<td>${hms(a.sent_ms, 1)}</td><td>${a.event_id}</td><td>${a.version}</td><td>${a.message_type}</td>` +
        `<td>${a.kind}</td><td>${fmt(a.magnitude, 1)}</td><td>${a.max_roman}</td><td>${a.drill ? '<span class="drilltag">DRILL</span>' : ""}</td>`;
      body.appendChild(tr);
    }
  }
  function renderHealth() {
    const body = $("health").tBodies[0];
    body.innerHTML = "";
    const keys = Object.keys(S.health).sort();
    for (const k of keys) {
      const v = S.health[k], tr = document.createElement("tr");
      const bad = (k.startsWith("dropped") || k.endsWith("dropped")) && v > 0;
      tr.innerHTML = `<td>${k.replace(/_/g, " ")}</td><td class="${bad ? "bad" : ""}">${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2) : v}</td>`;
      body.appendChild(tr);
    }
  }

  // ---- record section -----------------------------------------------------------------------
  function drawTraces() {
    const cv = $("record"), g = cv.getContext("2d"), W = cv.width, H = cv.height;
    g.clearRect(0, 0, W, H);
    const tr = S.traces;
    g.font = "10px sans-serif";
    if (!tr || !tr.traces.length) { g.fillStyle = "#888"; g.fillText("no triggered station", 10, 20); return; }
    const left = 70, n = tr.traces.length, row = (H - 16) / n, cols = tr.traces[0].min.length;
    const dx = (W - left - 4) / cols;
    g.strokeStyle = "#ddd"; g.fillStyle = "#666";
    for (let s = 0; s <= 60; s += 10) {  // seconds before the newest column
      const x = W - 4 - (s * 1000) / tr.column_ms * dx;
      g.beginPath(); g.moveTo(x, 0); g.lineTo(x, H - 14); g.stroke();
      g.fillText(s ? `-${s}s` : hms(tr.start_ms + cols * tr.column_ms), x - 12, H - 3);
    }
    tr.traces.forEach((t, i) => {
      const y0 = 4 + row * (i + 0.5), amp = row * 0.48 / 100;
      g.fillStyle = "#222"; g.fillText(t.id, 4, y0 + 3);
      g.strokeStyle = "#1d3f66"; g.beginPath();
      for (let j = 0; j < cols; j++) {
        if (t.min[j] === null) continue;
        const x = left + j * dx;
        g.moveTo(x, y0 - t.max[j] * amp); g.lineTo(x, y0 - t.min[j] * amp + 0.5);
      }
      g.stroke();
      if (t.pick_ms !== null) {
        const x = left + ((t.pick_ms - tr.start_ms) / tr.column_ms) * dx;
        if (x >= left) { g.strokeStyle = "#d62020"; g.beginPath(); g.moveTo(x, y0 - row / 2); g.lineTo(x, y0 + row / 2); g.stroke(); }
      }
    });
  }

  // ---- messages -----------------------------------------------------------------------------
  function onMessage(m) {
    S.messages++;
    switch (m.type) {
      case "snapshot":
        S.mode = m.mode;
        S.stations = {}; for (const s of m.stations) S.stations[s.id] = s;
        S.targets = m.targets; S.log = m.alert_log; S.latest = {};
        for (const a of m.latest) S.latest[a.key] = a;
        const mode = $("mode");
        mode.textContent = m.mode === "replay" ? "REPLAY · DRILL" : "LIVE";
        mode.className = "badge " + (m.mode === "replay" ? "drill" : "live");
        drawMap(); applyStates(m.station_states); renderAlert(); renderLog();
        break;
      case "clock":
        S.clock = { now_ms: m.now_ms, at: performance.now(), rate: m.rate, running: m.running };
        break;
      case "stations": applyStates(m.states); break;
      case "alert":
        S.latest[m.key] = m;
        S.log.push(Object.assign({}, m, { targets: undefined }));
        if (S.log.length > 200) S.log.shift();
        S.shown.push({ event_id: m.event_id, version: m.version, sent_ms: m.sent_ms, shown_data_ms: dataNow(), shown_wall_ms: Date.now() });
        renderAlert(); renderLog();
        break;
      case "traces": S.traces = m; drawTraces(); break;
      case "health": S.health = m.health; renderHealth(); break;
    }
  }
  function connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" + (token ? "?token=" + encodeURIComponent(token) : "");
    const ws = new WebSocket(url);
    ws.onopen = () => { $("conn").textContent = "connected"; $("conn").className = "badge on"; };
    ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
    ws.onclose = () => {
      $("conn").textContent = "offline"; $("conn").className = "badge off";
      S.clock.rate = 0; setTimeout(connect, 2000);
    };
  }
  setInterval(() => {
    const now = dataNow();
    if (S.clock.now_ms) {
      $("clock-utc").textContent = hms(now, 1);
      $("clock-local").textContent = hms(now + ALMATY_OFFSET_MS, 1);
    }
    drawEvent(now);
    tickCountdowns(now);
  }, 100);
  connect();
})();
