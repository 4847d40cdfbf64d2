// Perpetua live dashboard. Hand-written, no dependencies: it fetches
// api/state, then follows api/events (server-sent events) and redraws the
// sections whose data changed. Every string from the server is set with
// textContent or as an SVG attribute, never parsed as HTML.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#2f6fde", "#c8372d", "#1f8a4c", "#c98a12", "#8a63d2", "#0f8b8d", "#d0528c", "#5b6475"];
  const st = { config: { history: 600, model_api: "/v1/models" }, history: [], latest: null, lastSeq: 0, metric: {}, keys: {}, dirty: false };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function sv(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function empty(msg) { return el("p", { class: "empty" }, msg || "no data yet"); }
  function ms(t) { return typeof t === "number" ? t : Date.parse(t); }
  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 0.001 || a >= 1e6)) return v.toExponential(2);
    if (a >= 1000) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    return v.toFixed(3);
  }
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function fmtTime(t, span) {
    const d = new Date(t);
    const hm = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    if (span > 2 * 86400e3) return (d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + hm;
    if (span > 600e3) return hm;
    return hm + ":" + pad(d.getUTCSeconds());
  }
  function legend(items) {
    const lg = el("div", { class: "legend" });
    for (const it of items) {
      const s = el("span");
      const sw = el("i", it.marker ? { class: "m" } : null);
      sw.style.background = it.color;
      s.appendChild(sw);
      s.appendChild(document.createTextNode(it.name));
      lg.appendChild(s);
    }
    return lg;
  }
  const MARKER_COLORS = { drift: "#c8372d", warning: "#c98a12", adapt: "#1f8a4c", promote: "#1f8a4c", other: "#8a63d2" };
  function markerClass(kind) { return MARKER_COLORS[kind] ? kind : "other"; }

  // lineChart draws series [{name, color, pts: [[t, v]...], dashed}] with
  // optional vertical markers [{t, kind, label}] as an inline SVG.
  function lineChart(series, opt) {
    opt = opt || {};
    const W = opt.w || 560, H = opt.h || 180, L = 48, R = 10, T = 8, B = 22;
    const svg = sv("svg", { class: "chart", viewBox: "0 0 " + W + " " + H, role: "img" });
    if (opt.label) svg.setAttribute("aria-label", opt.label);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity, n = 0;
    for (const s of series) for (const p of s.pts) {
      if (p[0] < x0) x0 = p[0]; if (p[0] > x1) x1 = p[0];
      if (p[1] < y0) y0 = p[1]; if (p[1] > y1) y1 = p[1];
      n++;
    }
    if (n === 0) { svg.appendChild(sv("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no data yet")); return svg; }
    if (opt.y0 !== undefined) y0 = Math.min(y0, opt.y0);
    if (x1 === x0) { x0 -= 1000; x1 += 1000; }
    if (y1 === y0) { const d = Math.abs(y0) * 0.05 || 0.5; y0 -= d; y1 += d; }
    const padY = (y1 - y0) * 0.08; y0 -= opt.y0 !== undefined && y0 === opt.y0 ? 0 : padY; y1 += padY;
    const X = (t) => L + (t - x0) / (x1 - x0) * (W - L - R);
    const Y = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
    for (let i = 0; i <= 4; i++) {
      const v = y0 + (y1 - y0) * i / 4, y = Y(v).toFixed(1);
      svg.appendChild(sv("line", { class: "grid", x1: L, x2: W - R, y1: y, y2: y }));
      svg.appendChild(sv("text", { x: L - 4, y: +y + 3, "text-anchor": "end" }, fmt(v)));
    }
    for (let i = 0; i <= 3; i++) {
      const t = x0 + (x1 - x0) * i / 3;
      svg.appendChild(sv("text", { x: X(t).toFixed(1), y: H - 6, "text-anchor": i === 0 ? "start" : i === 3 ? "end" : "middle" }, fmtTime(t, x1 - x0)));
    }
    svg.appendChild(sv("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
    svg.appendChild(sv("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    for (const m of opt.markers || []) {
      if (m.t < x0 || m.t > x1) continue;
      const x = X(m.t).toFixed(1);
      const ln = sv("line", { class: "marker " + markerClass(m.kind), x1: x, x2: x, y1: T, y2: H - B, "data-kind": m.kind });
      ln.appendChild(sv("title", null, m.label));
      svg.appendChild(ln);
    }
    for (const s of series) {
      if (s.pts.length === 0) continue;
      let d = "";
      for (let i = 0; i < s.pts.length; i++) d += (i ? "L" : "M") + X(s.pts[i][0]).toFixed(1) + " " + Y(s.pts[i][1]).toFixed(1);
      const path = sv("path", { class: "series" + (s.dashed ? " dashed" : ""), d: d, stroke: s.color, "data-series": s.name, "data-points": s.pts.length });
      path.appendChild(sv("title", null, s.name + ": " + fmt(s.pts[s.pts.length - 1][1])));
      svg.appendChild(path);
      if (s.pts.length === 1) svg.appendChild(sv("circle", { cx: X(s.pts[0][0]).toFixed(1), cy: Y(s.pts[0][1]).toFixed(1), r: 2.5, fill: s.color }));
    }
    return svg;
  }

  // Learners: one card per task, one line per learner, so a continual
  // learner and its frozen twin share a chart.
  function renderLearners() {
    const body = $("learners-body");
    const ls = (st.latest && st.latest.learners) || [];
    if (ls.length === 0) { body.replaceChildren(empty()); return; }
    const tasks = new Map();
    for (const l of ls) {
      const task = l.task || l.name;
      if (!tasks.has(task)) tasks.set(task, []);
      tasks.get(task).push(l);
    }
    const markers = (st.latest.markers || []);
    const cards = el("div", { class: "cards" });
    for (const [task, group] of tasks) {
      const card = el("div", { class: "card learner", "data-task": task });
      const h = el("h3", null, task);
      card.appendChild(h);
      const names = new Set(group.map((l) => l.name));
      const metrics = [];
      for (const l of group) for (const k in (l.metrics || {})) if (!metrics.includes(k)) metrics.push(k);
      let sel = st.metric[task];
      if (!metrics.includes(sel)) sel = metrics.includes("logloss") ? "logloss" : metrics[0];
      st.metric[task] = sel;
      const tabs = el("div", { class: "tabs" });
      for (const m of metrics) {
        const b = el("button", { type: "button", class: m === sel ? "on" : "" }, m);
        b.addEventListener("click", () => { st.metric[task] = m; render(); });
        tabs.appendChild(b);
      }
      card.appendChild(tabs);
      const series = group.map((l, i) => ({
        name: l.name, color: COLORS[i % COLORS.length], dashed: /frozen|baseline|retrain/.test(l.name),
        pts: st.history.filter((p) => p.learners && p.learners[l.name] && p.learners[l.name][sel] !== undefined)
          .map((p) => [ms(p.time), p.learners[l.name][sel]]),
      }));
      const mk = markers.filter((m) => !m.learner || names.has(m.learner))
        .map((m) => ({ t: ms(m.time), kind: m.kind, label: (m.learner ? m.learner + " " : "") + m.kind + (m.detail ? ": " + m.detail : "") }));
      card.appendChild(lineChart(series, { markers: mk, label: task + " " + sel }));
      const items = series.map((s) => ({ name: s.name, color: s.color }));
      const kinds = [...new Set(mk.map((m) => m.kind))];
      for (const k of kinds) items.push({ name: k, color: MARKER_COLORS[markerClass(k)], marker: true });
      card.appendChild(legend(items));
      const tbl = el("table");
      const hr = el("tr"); hr.appendChild(el("th", null, "learner")); hr.appendChild(el("th", null, "events"));
      for (const m of metrics) hr.appendChild(el("th", null, m));
      tbl.appendChild(hr);
      for (const l of group) {
        const tr = el("tr", { "data-learner": l.name });
        tr.appendChild(el("td", null, l.name)); tr.appendChild(el("td", { class: "num" }, l.events || 0));
        for (const m of metrics) tr.appendChild(el("td", { class: "num" }, fmt((l.metrics || {})[m])));
        tbl.appendChild(tr);
      }
      card.appendChild(tbl);
      cards.appendChild(card);
    }
    body.replaceChildren(cards);
  }

  function renderModels() {
    const body = $("models-body");
    const models = (st.latest && st.latest.models) || [];
    const key = JSON.stringify(models);
    if (key === st.keys.models) return;
    st.keys.models = key;
    if (models.length === 0) { body.replaceChildren(empty()); return; }
    const champ = {};
    for (const m of models) if (m.champion) champ[m.name] = m.version;
    const tbl = el("table", { id: "models-table" });
    const hr = el("tr");
    for (const c of ["model", "version", "published", "champion", "metrics", ""]) hr.appendChild(el("th", null, c));
    tbl.appendChild(hr);
    for (const m of models) {
      const tr = el("tr", { class: m.champion ? "champion" : "", "data-model": m.name, "data-version": m.version });
      tr.appendChild(el("td", null, m.name));
      tr.appendChild(el("td", { class: "num" }, m.version));
      tr.appendChild(el("td", null, m.published_at ? new Date(m.published_at).toISOString().replace("T", " ").slice(0, 19) : "–"));
      tr.appendChild(el("td", null, m.champion ? "★ champion" : ""));
      tr.appendChild(el("td", null, Object.entries(m.metrics || {}).map(([k, v]) => k + " " + fmt(v)).join(", ")));
      const td = el("td");
      if (!m.champion) {
        const c = champ[m.name];
        const action = c !== undefined && m.version < c ? "rollback" : "promote";
        const b = el("button", { type: "button", class: action }, action === "rollback" ? "Roll back to v" + m.version : "Promote v" + m.version);
        b.addEventListener("click", () => modelAction(action, m.name, m.version, b));
        td.appendChild(b);
      }
      tr.appendChild(td);
      tbl.appendChild(tr);
    }
    body.replaceChildren(tbl);
  }

  async function modelAction(action, model, version, button) {
    const out = $("models-result");
    const key = $("adminkey").value.trim();
    if (!key) { out.className = "result err"; out.textContent = "Enter the admin key first."; return; }
    button.disabled = true;
    out.className = "result"; out.textContent = action + " " + model + " v" + version + "…";
    try {
      const res = await fetch(st.config.model_api + "/" + action, {
        method: "POST", credentials: "omit", cache: "no-store",
        headers: { "Content-Type": "application/json", "Authorization": "Bearer " + key },
        body: JSON.stringify({ model: model, version: version }),
      });
      const text = (await res.text()).slice(0, 500);
      out.className = "result " + (res.ok ? "ok" : "err");
      out.textContent = action + " " + model + " v" + version + ": " + res.status + " " + res.statusText + (text ? " — " + text : "");
      if (res.ok) st.keys.models = "";
    } catch (e) {
      out.className = "result err"; out.textContent = action + " failed: " + e.message;
    } finally { button.disabled = false; }
  }

  function valueSeries(name, label, color) {
    return { name: label, color: color, pts: st.history.filter((p) => p.values && p.values[name] !== undefined).map((p) => [ms(p.time), p.values[name]]) };
  }
  function figure(label, v) {
    const f = el("div", { class: "figure", "data-figure": label });
    f.appendChild(el("b", null, fmt(v))); f.appendChild(el("span", null, label));
    return f;
  }

  function renderRecommend() {
    const body = $("recommend-body");
    const r = st.latest && st.latest.recommend;
    if (!r) { body.replaceChildren(empty()); return; }
    const figs = el("div", { class: "figures" });
    figs.appendChild(figure("CTR", r.ctr)); figs.appendChild(figure("regret", r.regret));
    if (r.impressions) figs.appendChild(figure("impressions", r.impressions));
    const ctr = valueSeries("recommend.ctr", "CTR", COLORS[0]), reg = valueSeries("recommend.regret", "regret", COLORS[1]);
    body.replaceChildren(figs, lineChart([ctr], { h: 130, label: "CTR" }), legend([ctr]), lineChart([reg], { h: 130, label: "regret" }), legend([reg]));
  }

  function renderFraud() {
    const body = $("fraud-body");
    const f = st.latest && st.latest.fraud;
    if (!f) { body.replaceChildren(empty()); return; }
    const figs = el("div", { class: "figures" });
    figs.appendChild(figure("precision", f.precision)); figs.appendChild(figure("recall", f.recall));
    figs.appendChild(figure("in review", (f.queue || []).length));
    const ss = [valueSeries("fraud.precision", "precision", COLORS[2]), valueSeries("fraud.recall", "recall", COLORS[3])].filter((s) => s.pts.length);
    const parts = [figs, lineChart(ss, { h: 130, label: "fraud precision" }), legend(ss)];
    const q = f.queue || [];
    if (q.length === 0) parts.push(empty("review queue empty"));
    else {
      const tbl = el("table", { id: "review-queue" });
      const hr = el("tr");
      for (const c of ["id", "time", "amount", "score", "reasons"]) hr.appendChild(el("th", null, c));
      tbl.appendChild(hr);
      for (const r of q) {
        const tr = el("tr");
        tr.appendChild(el("td", null, r.id));
        tr.appendChild(el("td", null, r.time ? fmtTime(ms(r.time), 0) : "–"));
        tr.appendChild(el("td", { class: "num" }, fmt(r.amount)));
        tr.appendChild(el("td", { class: "num" }, fmt(r.score)));
        const td = el("td");
        for (const c of r.reasons || []) td.appendChild(el("span", { class: "tag" }, c));
        tr.appendChild(td);
        tbl.appendChild(tr);
      }
      const sc = el("div", { class: "scroll" }); sc.appendChild(tbl);
      parts.push(sc);
    }
    body.replaceChildren(...parts);
  }

  function renderForecasts() {
    const body = $("forecasts-body");
    const fs = (st.latest && st.latest.forecasts) || [];
    const key = JSON.stringify(fs);
    if (key === st.keys.forecasts) return;
    st.keys.forecasts = key;
    if (fs.length === 0) { body.replaceChildren(empty()); return; }
    const parts = [];
    for (const f of fs) {
      const pts = f.points || [];
      const act = { name: "actual", color: COLORS[7], pts: pts.filter((p) => p.actual !== null).map((p) => [ms(p.time), p.actual]) };
      const fc = { name: "forecast", color: COLORS[0], dashed: true, pts: pts.filter((p) => p.forecast !== null).map((p) => [ms(p.time), p.forecast]) };
      const d = el("div", { class: "forecast", "data-sku": f.sku });
      d.appendChild(el("h3", null, f.sku));
      d.appendChild(lineChart([act, fc], { h: 120, y0: 0, label: "forecast " + f.sku }));
      parts.push(d);
    }
    parts.push(legend([{ name: "actual", color: COLORS[7] }, { name: "forecast", color: COLORS[0] }]));
    body.replaceChildren(...parts);
  }

  // Routes on an equirectangular projection scaled by cos(latitude), which
  // keeps a city-sized area undistorted enough to read.
  function renderRoutes() {
    const body = $("routes-body");
    const rs = ((st.latest && st.latest.routes) || []).filter((r) => (r.stops || []).length);
    const key = JSON.stringify(rs);
    if (key === st.keys.routes) return;
    st.keys.routes = key;
    if (rs.length === 0) { body.replaceChildren(empty()); return; }
    let la0 = Infinity, la1 = -Infinity, lo0 = Infinity, lo1 = -Infinity;
    for (const r of rs) for (const p of r.stops) {
      la0 = Math.min(la0, p.lat); la1 = Math.max(la1, p.lat); lo0 = Math.min(lo0, p.lon); lo1 = Math.max(lo1, p.lon);
    }
    const k = Math.cos(((la0 + la1) / 2) * Math.PI / 180);
    const w = Math.max((lo1 - lo0) * k, 1e-4), h = Math.max(la1 - la0, 1e-4);
    const W = 560, H = Math.max(200, Math.min(420, W * h / w)), P = 14;
    const s = Math.min((W - 2 * P) / w, (H - 2 * P) / h);
    const X = (lon) => (P + ((lon - lo0) * k) * s + ((W - 2 * P) - w * s) / 2).toFixed(1);
    const Y = (lat) => (P + (la1 - lat) * s + ((H - 2 * P) - h * s) / 2).toFixed(1);
    const svg = sv("svg", { class: "map", viewBox: "0 0 " + W + " " + H.toFixed(0), role: "img", "aria-label": "routes" });
    svg.appendChild(sv("rect", { class: "land", x: 0.5, y: 0.5, width: W - 1, height: (H - 1).toFixed(0), rx: 4 }));
    for (let i = 1; i < 4; i++) {
      const x = (W * i / 4).toFixed(1), y = (H * i / 4).toFixed(1);
      svg.appendChild(sv("line", { class: "grid", x1: x, x2: x, y1: 0, y2: H.toFixed(0) }));
      svg.appendChild(sv("line", { class: "grid", x1: 0, x2: W, y1: y, y2: y }));
    }
    const items = [];
    rs.forEach((r, i) => {
      const c = COLORS[i % COLORS.length];
      const pl = sv("polyline", { class: "route", stroke: c, points: r.stops.map((p) => X(p.lon) + "," + Y(p.lat)).join(" "), "data-vehicle": r.vehicle, "data-points": r.stops.length });
      pl.appendChild(sv("title", null, r.vehicle + ": " + r.stops.length + " stops"));
      svg.appendChild(pl);
      r.stops.forEach((p, j) => {
        if (j === 0) svg.appendChild(sv("rect", { x: +X(p.lon) - 4, y: +Y(p.lat) - 4, width: 8, height: 8, fill: "#1d2330" }));
        else svg.appendChild(sv("circle", { cx: X(p.lon), cy: Y(p.lat), r: 2.5, fill: c }));
      });
      items.push({ name: r.vehicle + " (" + (r.stops.length - 1) + " stops)", color: c });
    });
    body.replaceChildren(svg, legend(items));
  }

  function render() {
    st.dirty = false;
    renderLearners(); renderModels(); renderRecommend(); renderFraud(); renderForecasts(); renderRoutes();
    if (st.latest) $("clock").textContent = new Date(ms(st.latest.time)).toISOString().replace("T", " ").slice(0, 19) + " UTC";
    const root = document.documentElement;
    root.dataset.samples = st.history.length;
    if (st.history.length && !root.dataset.renderMs) {
      root.dataset.renderMs = performance.now().toFixed(1);
      console.info("perpetua-dashboard: first render with data at " + root.dataset.renderMs + " ms");
    }
  }
  function schedule() {
    if (st.dirty) return;
    st.dirty = true;
    // requestAnimationFrame does not run in hidden tabs; a timer does.
    if (document.hidden) setTimeout(render, 250); else requestAnimationFrame(render);
  }
  function status(cls, text) { const s = $("status"); s.className = "status " + cls; s.textContent = text; }

  function addPoint(p) {
    if (p.seq <= st.lastSeq) return;
    st.history.push(p);
    st.lastSeq = p.seq;
    const max = st.config.history || 600;
    if (st.history.length > max) st.history.splice(0, st.history.length - max);
  }

  let es = null;
  function connect() {
    es = new EventSource("api/events?after=" + st.lastSeq);
    es.addEventListener("open", () => status("live", "live"));
    es.addEventListener("hello", (e) => {
      // Another Recorder: the server restarted, so the history restarts.
      if (JSON.parse(e.data).boot !== st.config.boot) {
        es.close();
        st.history = []; st.lastSeq = 0; st.latest = null; st.keys = {};
        load();
      }
    });
    es.addEventListener("sample", (e) => {
      const d = JSON.parse(e.data);
      addPoint(d.point);
      if (d.latest) st.latest = d.latest;
      status("live", "live · " + st.history.length + " samples");
      schedule();
    });
    es.addEventListener("error", () => status(es.readyState === EventSource.CLOSED ? "down" : "wait", es.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting…"));
  }

  // poll follows api/state on a timer instead of the event stream: for
  // proxies that buffer server-sent events, and for headless checks whose
  // virtual clock would wait forever on an open stream (?live=poll).
  async function poll() {
    try {
      const res = await fetch("api/state", { cache: "no-store" });
      if (!res.ok) throw new Error("api/state: " + res.status);
      const s = await res.json();
      for (const p of s.history || []) addPoint(p);
      if (s.latest) st.latest = s.latest;
      status("live", "polling · " + st.history.length + " samples");
      schedule();
    } catch (e) {
      status("wait", "polling: " + e.message);
    }
    setTimeout(poll, Math.max(250, st.config.interval_ms || 1000));
  }

  async function load() {
    try {
      const res = await fetch("api/state", { cache: "no-store" });
      if (!res.ok) throw new Error("api/state: " + res.status);
      const s = await res.json();
      st.config = s.config || st.config;
      for (const p of s.history || []) addPoint(p);
      st.latest = s.latest;
      render();
      if (st.latest) status("wait", "connecting…"); else status("wait", "waiting for the first sample…");
    } catch (e) {
      status("down", "cannot load state: " + e.message);
      setTimeout(load, 3000);
      return;
    }
    if (new URLSearchParams(location.search).get("live") === "poll" || !window.EventSource) setTimeout(poll, Math.max(250, st.config.interval_ms || 1000));
    else connect();
  }
  console.info("perpetua-dashboard: app start at " + performance.now().toFixed(1) + " ms");
  load();
})();
