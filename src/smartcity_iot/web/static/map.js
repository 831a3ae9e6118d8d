// The console's map, drawn with Leaflet (shipped in static/vendor/, so it works offline):
// the district's streets, the zones with their names, the fixed cameras, the patrol
// units, alerts (clustered when dense) and a dog's track with its direction, start and
// end. Tiles are drawn under the vectors only when the server names a tile server
// (--map-tiles). Every element is made through the DOM API: the page's CSP allows no
// inline style or script.
"use strict";

const SCMap = {
  PATROL_STALE_S: 600, // a unit silent this long is drawn muted: parked, or out of coverage
  LABELS_FROM_ZOOM: 16, // street and sidewalk names only once they have room
  ARROWS: 8, // direction arrows along a track, evenly spaced

  ZONE_STYLE: {
    "zone-dogs": { color: "#b3261e", fillColor: "#f28b82", fillOpacity: 0.4, weight: 1.5 },
    "zone-hours": { color: "#b36b00", fillColor: "#ffd599", fillOpacity: 0.45, weight: 1.5 },
    "zone-sidewalk": { color: "#3d4856", fillColor: "#8b97a5", fillOpacity: 0.75, weight: 2, dashArray: "4 3" },
    "zone-loading_spot": { color: "#0b5cad", fillColor: "#7fb3ff", fillOpacity: 0.85, weight: 2 },
  },

  // Layers the server knows beside the zones, fetched once per page.
  _extras: null,
  extras() {
    if (!SCMap._extras) {
      const quiet = (p) => p.catch((e) => { console.error(e); return null; });
      SCMap._extras = Promise.all([quiet(SC.api("GET", "/api/streets")), quiet(SC.api("GET", "/api/operator/cameras"))]);
    }
    return SCMap._extras;
  },

  create(el, zones) {
    if (el._scmap) el._scmap.map.remove(); // the alert page redraws after each action
    const map = L.map(el, { zoomSnap: 0.25, minZoom: 11, maxZoom: 20, attributionControl: true, zoomControl: false });
    L.control.zoom({ zoomInTitle: SC.t("map.zoom_in"), zoomOutTitle: SC.t("map.zoom_out") }).addTo(map); // Leaflet's own are English
    map.attributionControl.setPrefix("Leaflet");
    const m = { el, map, zones, layers: {} };
    el._scmap = m;
    // own panes: streets under the zones, routes and the track over them, names under the markers
    for (const [name, z] of [["streets", 350], ["routes", 420], ["track", 430], ["labels", 450]]) map.createPane(name).style.zIndex = z;
    if (zones.tiles) L.tileLayer(zones.tiles, { maxZoom: 20, maxNativeZoom: 19, className: "map-tile" }).addTo(map);
    const inner = SCMap.innerZones(zones);
    m.layers.zones = L.geoJSON(zones, {
      style: (f) => ({ ...SCMap.ZONE_STYLE[SCMap.zoneClass(f.properties)], className: `zone ${SCMap.zoneClass(f.properties)}` }),
      onEachFeature: (f, layer) => SCMap.labelZone(layer, f.properties || {}, inner.has(f)),
    });
    const bounds = m.layers.zones.getBounds(); // a view first: layers draw once the map has one
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12] });
    else map.setView([28.97, 118.87], 15);
    m.layers.zones.addTo(map);
    for (const layer of m.layers.zones.getLayers()) layer.getElement().setAttribute("data-zone", layer.feature.properties.id);
    map.on("zoomend", () => SCMap.zoomClass(m));
    SCMap.zoomClass(m);
    m.layers.alerts = L.markerClusterGroup({ maxClusterRadius: 36, showCoverageOnHover: false, disableClusteringAtZoom: 18 }).addTo(map);
    m.ready = SCMap.extras().then(([streets, cameras]) => {
      if (el._scmap !== m) return;
      if (streets) SCMap.streets(m, streets);
      if (cameras) SCMap.cameras(m, cameras);
    });
    return m;
  },

  zoneClass(p) {
    if (p.rule === "dogs") return p.walking_hours && p.walking_hours.length ? "zone-hours" : "zone-dogs";
    return `zone-${p.rule}`;
  },

  // Dog zones and sidewalks carry their names on the map (a click tells the rest); a
  // loading spot lies within its sidewalk, so it names itself and its hours on hover.
  labelZone(layer, p, inner) {
    const name = p.name || p.id;
    if (p.rule === "loading_spot") {
      const hours = p.hours && p.hours.length ? ` · ${SC.t("map.loading_hours", { hours: p.hours.join(" "), max: p.max_stop_min })}` : "";
      layer.bindTooltip(`${name}${hours}`, { sticky: true, className: "map-tip" });
      return;
    }
    const hours = p.walking_hours && p.walking_hours.length ? ` · ${SC.t("map.walking_hours", { hours: p.walking_hours.join(" ") })}` : "";
    layer.bindTooltip(name, { permanent: true, direction: "center", pane: "labels", className: `zone-label${p.rule === "sidewalk" || inner ? " minor" : ""}` });
    layer.on("tooltipopen", (ev) => ev.tooltip.getElement().setAttribute("data-zone", p.id));
    layer.bindPopup(SC.el("div", {}, SC.el("strong", {}, name), SC.el("br"), `${p.id} · ${p.grid || "—"}${hours}`));
  },

  // Zones inside another zone (a playground in its park): named once zoomed in, so
  // that the two names do not print over each other.
  innerZones(zones) {
    const boxes = zones.features.map((f) => [f, L.geoJSON(f).getBounds()]);
    return new Set(boxes.filter(([f, box]) => box.isValid() &&
      boxes.some(([g, outer]) => g !== f && outer.isValid() && outer.contains(box))).map(([f]) => f));
  },

  zoomClass(m) {
    m.el.classList.toggle("map-far", m.map.getZoom() < SCMap.LABELS_FROM_ZOOM);
  },

  streets(m, geojson) {
    m.layers.streets = L.geoJSON(geojson, {
      pane: "streets",
      style: (f) => ({ className: `street street-${f.properties.kind || "street"}`, color: "#ffffff", weight: f.properties.kind === "road" ? 9 : 6, opacity: 1, interactive: false }),
    }).addTo(m.map);
    for (const layer of m.layers.streets.getLayers()) {
      const p = layer.feature.properties;
      layer.getElement().setAttribute("data-street", p.id);
      if (p.name) {
        layer.bindTooltip(p.name, { permanent: true, direction: "center", pane: "labels", className: "street-label" });
        layer.getTooltip().getElement().setAttribute("data-street", p.id);
      }
    }
    // a casing under the white fill, so a street reads against any background
    m.layers.casing = L.geoJSON(geojson, {
      pane: "streets",
      style: (f) => ({ className: "street-casing", color: "#b8bfc7", weight: f.properties.kind === "road" ? 12 : 8, opacity: 1, interactive: false }),
    }).addTo(m.map);
    m.layers.casing.bringToBack();
  },

  svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    node.append(...children);
    return node;
  },

  icon(className, attrs, ...children) {
    const box = SC.el("div", attrs, ...children);
    return L.divIcon({ className, html: box, iconSize: null });
  },

  cameras(m, cameras) {
    m.layers.cameras = L.layerGroup(cameras.map((c) => {
      const marker = L.marker([c.lat, c.lon], { icon: SCMap.icon("camera-marker", { "data-camera": c.id }, "◉"), keyboard: false });
      marker.bindTooltip(SC.t("map.camera", { name: c.name, id: c.id, grid: c.grid || "—" }), { direction: "top", className: "map-tip" });
      return marker;
    })).addTo(m.map);
  },

  dots(m, alerts, onClick) {
    const markers = alerts.filter((a) => a.lat !== null && a.lon !== null).map((a) => {
      const marker = L.marker([a.lat, a.lon], {
        icon: SCMap.icon(`alert-marker ${a.status}`, { "data-alert-id": a.id, "data-kind": a.kind }),
        title: SC.t("map.alert", { kind: SC.label("kind", a.kind), device: a.device_id, zone: a.zone_name || "—" }),
      });
      if (onClick) marker.on("click", () => onClick(a));
      return marker;
    });
    m.layers.alerts.clearLayers();
    m.layers.alerts.addLayers(markers);
  },

  // A dog's track: the line, an arrow every few fixes along its direction, a start and an
  // end marker, and each fix's time on hover.
  track(m, points) {
    if (m.layers.track) m.layers.track.remove();
    if (!points.length) return;
    const lls = points.map((p) => [p.lat, p.lon]);
    const group = L.layerGroup();
    L.polyline(lls, { pane: "track", className: "track", color: "#0b5cad", weight: 3, opacity: 0.9 }).addTo(group);
    for (const p of points) {
      L.circleMarker([p.lat, p.lon], { pane: "track", className: "fix", radius: 4, color: "#ffffff", weight: 1, fillColor: "#0b5cad", fillOpacity: 1 })
        .bindTooltip(`${SC.time(p.ts)}${p.acc ? ` · ${SC.t("map.accuracy", { m: Math.round(p.acc) })}` : ""}`, { className: "map-tip" }).addTo(group);
    }
    for (const [at, bearing] of SCMap.along(m.map, lls, SCMap.ARROWS)) {
      const arrow = SCMap.svg("svg", { class: "arrow", viewBox: "-8 -8 16 16", width: 18, height: 18, "data-bearing": Math.round(bearing) },
        SCMap.svg("path", { d: "M0,-7L6,6L0,2.5L-6,6Z" })); // points north, turned to the bearing
      arrow.style.transform = `rotate(${bearing.toFixed(0)}deg)`;
      L.marker(at, { icon: L.divIcon({ className: "track-arrow", html: arrow, iconSize: [18, 18] }), interactive: false, keyboard: false }).addTo(group);
    }
    const first = points[0], last = points[points.length - 1];
    L.marker(lls[0], { icon: SCMap.icon("track-start", { "data-ts": first.ts }, SC.t("map.start_mark")), zIndexOffset: 500 })
      .bindTooltip(SC.t("map.start", { time: SC.time(first.ts) }), { direction: "top", className: "map-tip" }).addTo(group);
    L.marker(lls[lls.length - 1], { icon: SCMap.icon("track-end", { "data-ts": last.ts }, SC.t("map.end_mark")), zIndexOffset: 600 })
      .bindTooltip(SC.t("map.end", { time: SC.time(last.ts) }), { direction: "top", className: "map-tip" }).addTo(group);
    m.layers.track = group.addTo(m.map);
  },

  // `count` points evenly spaced along the line (by metres), each with the bearing of its
  // segment; Web Mercator keeps angles, so a bearing is drawn as it is.
  along(map, lls, count) {
    const segs = [];
    let total = 0;
    for (let i = 1; i < lls.length; i++) {
      const d = map.distance(lls[i - 1], lls[i]);
      if (d > 0) { segs.push([lls[i - 1], lls[i], total, d]); total += d; }
    }
    const out = [];
    if (!total) return out;
    for (let k = 0; k < count; k++) {
      const s = total * (k + 0.5) / count;
      const [a, b, s0, d] = segs.find(([, , s0, d]) => s <= s0 + d) || segs[segs.length - 1];
      const f = Math.min(1, (s - s0) / d);
      const lat = a[0] + (b[0] - a[0]) * f, lon = a[1] + (b[1] - a[1]) * f;
      const bearing = Math.atan2((b[1] - a[1]) * Math.cos(lat * Math.PI / 180), b[0] - a[0]) * 180 / Math.PI;
      out.push([[lat, lon], (bearing + 360) % 360]);
    }
    return out;
  },

  // Patrol units (/api/operator/patrols): each one's recent route as a line, its last
  // position as an arrow along its heading, labelled with its name.
  patrols(m, units, now = Date.now() / 1000) {
    if (m.layers.patrols) m.layers.patrols.remove();
    const group = L.layerGroup();
    const routes = [];
    for (const u of units) {
      const stale = u.last_seen === null || now - u.last_seen > SCMap.PATROL_STALE_S;
      if (u.route.length > 1) {
        const line = L.polyline(u.route, {
          pane: "routes", className: `patrol-route${stale ? " stale" : ""}`, color: stale ? "#a99bb5" : "#7b3fa0",
          weight: 4, opacity: 0.85, dashArray: stale ? "6 4" : null, smoothFactor: 0, noClip: true,
        }).addTo(group);
        routes.push([line, u]);
      }
      if (u.position) {
        const p = u.position;
        const arrow = SC.el("span", { class: "patrol-arrow" }, "▲");
        arrow.style.transform = `rotate(${p.heading.toFixed(0)}deg)`;
        L.marker([p.lat, p.lon], {
          icon: SCMap.icon(`patrol-unit${stale ? " stale" : ""}`, { "data-unit": u.id, "data-heading": Math.round(p.heading) },
            arrow, SC.el("span", { class: `patrol-label ${SCMap.labelPlace(p.heading)}` }, u.name)),
          zIndexOffset: 800,
        }).bindTooltip(SC.t("map.patrol", { name: u.name, id: u.id, time: SC.time(p.ts), heading: Math.round(p.heading) }), { direction: "top", className: "map-tip" })
          .addTo(group);
      }
    }
    m.layers.patrols = group.addTo(m.map);
    for (const [line, u] of routes) line.getElement().setAttribute("data-unit", u.id);
  },

  // A unit's label clear of its own route behind it: above a unit driving east or
  // west, beside one driving north or south.
  labelPlace(heading) {
    const h = ((heading % 180) + 180) % 180;
    return h > 45 && h < 135 ? "above" : "beside";
  },

  focus(m, lonlats) {
    m.map.invalidateSize();
    if (!lonlats.length) return;
    m.map.fitBounds(L.latLngBounds(lonlats.map(([lon, lat]) => [lat, lon])), { padding: [40, 40], maxZoom: 18, animate: false });
  },
};
