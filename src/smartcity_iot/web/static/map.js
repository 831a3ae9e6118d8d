// Vector map drawn client-side in SVG: zones from /api/zones, alert dots, a track and
// the patrol units' routes.
// Works offline: tiles are drawn under the vectors only when the server names a tile
// server (--map-tiles). Coordinates are lon, lat, projected equirectangularly.
"use strict";

const SCMap = {
  NS: "http://www.w3.org/2000/svg",

  // Web Mercator tiles (z/x/y) covering the zones, each placed by its corners; over a
  // tile's few hundred metres the difference between the projections is negligible.
  tiles(m, template, lons, lats, z = 16) {
    const n = 2 ** z;
    const tx = (lon) => Math.floor((lon + 180) / 360 * n);
    const ty = (lat) => Math.floor((1 - Math.asinh(Math.tan(lat * Math.PI / 180)) / Math.PI) / 2 * n);
    const lonOf = (x) => x / n * 360 - 180;
    const latOf = (y) => Math.atan(Math.sinh(Math.PI * (1 - 2 * y / n))) * 180 / Math.PI;
    for (let x = tx(Math.min(...lons)); x <= tx(Math.max(...lons)); x++) {
      for (let y = ty(Math.max(...lats)); y <= ty(Math.min(...lats)); y++) {
        const [x0, y0] = m.project([lonOf(x), latOf(y)]);
        const [x1, y1] = m.project([lonOf(x + 1), latOf(y + 1)]);
        const img = document.createElementNS(SCMap.NS, "image");
        img.setAttribute("href", template.replace("{z}", z).replace("{x}", x).replace("{y}", y));
        img.setAttribute("x", x0); img.setAttribute("y", y0);
        img.setAttribute("width", x1 - x0); img.setAttribute("height", y1 - y0);
        img.setAttribute("preserveAspectRatio", "none");
        m.layers.tiles.append(img);
      }
    }
  },

  create(svg, zones) {
    const m = { svg, zones, layers: {} };
    let lons = [], lats = [];
    for (const f of zones.features) SCMap.rings(f.geometry).flat().forEach(([x, y]) => { lons.push(x); lats.push(y); });
    if (!lons.length) { lons = [118.86, 118.88]; lats = [28.96, 28.98]; }
    const lat0 = (Math.min(...lats) + Math.max(...lats)) / 2;
    m.k = Math.cos(lat0 * Math.PI / 180);
    m.lon0 = Math.min(...lons); m.lat1 = Math.max(...lats);
    m.project = ([lon, lat]) => [(lon - m.lon0) * m.k * 1e5, (m.lat1 - lat) * 1e5];
    const [w, h] = m.project([Math.max(...lons), Math.min(...lats)]);
    const pad = Math.max(w, h) * 0.04 + 10;
    m.box = [-pad, -pad, w + 2 * pad, h + 2 * pad];
    svg.setAttribute("viewBox", m.box.join(" "));
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    svg.replaceChildren();
    for (const name of ["tiles", "zones", "track", "patrols", "alerts"]) {
      m.layers[name] = document.createElementNS(SCMap.NS, "g");
      svg.append(m.layers[name]);
    }
    if (zones.tiles) SCMap.tiles(m, zones.tiles, lons, lats);
    for (const f of zones.features) {
      const p = f.properties || {};
      const cls = p.rule === "dogs" ? (p.walking_hours && p.walking_hours.length ? "zone-dogs zone-hours" : "zone-dogs") : `zone-${p.rule}`;
      const path = document.createElementNS(SCMap.NS, "path");
      path.setAttribute("d", SCMap.rings(f.geometry).map((ring) => "M" + ring.map((c) => m.project(c).map((v) => v.toFixed(1)).join(",")).join("L") + "Z").join(""));
      path.setAttribute("class", cls);
      path.setAttribute("fill-rule", "evenodd");
      const title = document.createElementNS(SCMap.NS, "title");
      title.textContent = `${p.name || p.id} · ${p.grid || ""}${p.walking_hours ? " · " + p.walking_hours.join(" ") : ""}`;
      path.append(title);
      m.layers.zones.append(path);
    }
    SCMap.zoomable(m);
    return m;
  },

  rings(g) {
    if (!g) return [];
    if (g.type === "Polygon") return g.coordinates;
    if (g.type === "MultiPolygon") return g.coordinates.flat();
    return [];
  },

  dots(m, alerts, onClick) {
    const r = m.box[2] / 120;
    m.layers.alerts.replaceChildren(...alerts.filter((a) => a.lat !== null && a.lon !== null).map((a) => {
      const [x, y] = m.project([a.lon, a.lat]);
      const c = document.createElementNS(SCMap.NS, "circle");
      c.setAttribute("cx", x.toFixed(1)); c.setAttribute("cy", y.toFixed(1)); c.setAttribute("r", r.toFixed(1));
      c.setAttribute("class", `alert-dot ${a.status}`);
      c.setAttribute("data-alert-id", a.id);
      const t = document.createElementNS(SCMap.NS, "title");
      t.textContent = `${SC.KINDS[a.kind] || a.kind} · ${a.device_id} · ${a.zone_name || ""}`;
      c.append(t);
      if (onClick) c.addEventListener("click", () => onClick(a));
      return c;
    }));
  },

  track(m, points) {
    if (!points.length) { m.layers.track.replaceChildren(); return; }
    const line = document.createElementNS(SCMap.NS, "polyline");
    line.setAttribute("points", points.map((p) => m.project([p.lon, p.lat]).map((v) => v.toFixed(1)).join(",")).join(" "));
    line.setAttribute("class", "track");
    const r = m.box[2] / 300;
    const fixes = points.map((p) => {
      const [x, y] = m.project([p.lon, p.lat]);
      const c = document.createElementNS(SCMap.NS, "circle");
      c.setAttribute("cx", x.toFixed(1)); c.setAttribute("cy", y.toFixed(1)); c.setAttribute("r", r.toFixed(1));
      c.setAttribute("class", "fix");
      return c;
    });
    m.layers.track.replaceChildren(line, ...fixes);
  },

  node(tag, attrs, ...children) {
    const n = document.createElementNS(SCMap.NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    n.append(...children);
    return n;
  },

  PATROL_STALE_S: 600, // a unit silent this long is drawn muted: parked, or out of coverage

  // Patrol units (/api/operator/patrols): each one's recent route as a line, its last
  // position as an arrow along its heading, labelled with its name.
  patrols(m, units, now = Date.now() / 1000) {
    const s = m.box[2] / 70;
    const xy = (lat, lon) => m.project([lon, lat]).map((v) => v.toFixed(1)).join(",");
    const arrow = `M0,${-s}L${0.7 * s},${0.8 * s}L0,${0.35 * s}L${-0.7 * s},${0.8 * s}Z`;
    m.layers.patrols.replaceChildren(...units.map((u) => {
      const stale = u.last_seen === null || now - u.last_seen > SCMap.PATROL_STALE_S;
      const g = SCMap.node("g", { class: stale ? "patrol stale" : "patrol", "data-unit": u.id });
      if (u.route.length > 1) {
        g.append(SCMap.node("polyline", { class: "patrol-route", "data-unit": u.id, points: u.route.map(([lat, lon]) => xy(lat, lon)).join(" ") }));
      }
      if (u.position) {
        const p = u.position;
        g.append(SCMap.node("g", { class: "patrol-unit", "data-unit": u.id, transform: `translate(${xy(p.lat, p.lon)})` },
          SCMap.node("title", {}, `巡查车 Patrol unit ${u.name} (${u.id}) · ${SC.time(p.ts)} · ${Math.round(p.heading)}°`),
          SCMap.node("path", { class: "patrol-arrow", d: arrow, transform: `rotate(${p.heading.toFixed(0)})` }),
          SCMap.node("text", { class: "patrol-label", ...SCMap.labelPlace(p.heading, s), "font-size": (1.5 * s).toFixed(1), "stroke-width": (0.4 * s).toFixed(1) }, u.name)));
      }
      return g;
    }));
  },

  // A unit's label clear of its own route behind it: above a unit driving east or
  // west, beside one driving north or south.
  labelPlace(heading, s) {
    const h = ((heading % 180) + 180) % 180;
    return h > 45 && h < 135
      ? { x: 0, y: (-1.5 * s).toFixed(1), "text-anchor": "middle" }
      : { x: (1.2 * s).toFixed(1), y: (0.5 * s).toFixed(1), "text-anchor": "start" };
  },

  focus(m, lonlats) {
    if (!lonlats.length) return;
    const xy = lonlats.map((c) => m.project(c));
    const xs = xy.map((p) => p[0]), ys = xy.map((p) => p[1]);
    const pad = 150;
    const box = [Math.min(...xs) - pad, Math.min(...ys) - pad, Math.max(...xs) - Math.min(...xs) + 2 * pad, Math.max(...ys) - Math.min(...ys) + 2 * pad];
    m.svg.setAttribute("viewBox", box.join(" "));
  },

  zoomable(m) {
    // Wheel zooms around the pointer; drag pans. Enough for a city district without tiles.
    const vb = () => m.svg.getAttribute("viewBox").split(" ").map(Number);
    m.svg.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const [x, y, w, h] = vb();
      const rect = m.svg.getBoundingClientRect();
      const px = x + w * (ev.clientX - rect.left) / rect.width, py = y + h * (ev.clientY - rect.top) / rect.height;
      const f = ev.deltaY > 0 ? 1.2 : 1 / 1.2;
      m.svg.setAttribute("viewBox", [px - (px - x) * f, py - (py - y) * f, w * f, h * f].join(" "));
    }, { passive: false });
    let drag = null;
    m.svg.addEventListener("pointerdown", (ev) => { drag = [ev.clientX, ev.clientY, vb()]; });
    m.svg.addEventListener("pointerup", () => { drag = null; });
    m.svg.addEventListener("pointerleave", () => { drag = null; });
    m.svg.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      const [sx, sy, [x, y, w, h]] = drag;
      const rect = m.svg.getBoundingClientRect();
      m.svg.setAttribute("viewBox", [x - (ev.clientX - sx) * w / rect.width, y - (ev.clientY - sy) * h / rect.height, w, h].join(" "));
    });
  },
};
