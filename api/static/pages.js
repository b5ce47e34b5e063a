/* Shared by every page: the page's data, CSRF-carrying fetch, and maps
   (Leaflet served by the service; a tile layer only when one is configured). */
"use strict";
performance.mark("t-pages-js");
window.junkai = (function () {
  function json(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent || "{}") : {};
  }
  var data = json("page-data");
  var tiles = json("page-tiles");
  var text = json("page-text");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function post(url, body, asJson) {
    var headers = { "X-CSRF-Token": csrf, "Accept": "application/json" };
    var payload = body;
    if (asJson) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    return fetch(url, { method: "POST", headers: headers, body: payload, credentials: "same-origin" })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) { var e = new Error((j && j.detail) ? JSON.stringify(j.detail) : r.status); e.status = r.status; throw e; }
          return j;
        });
      });
  }

  function map(elId, noteId) {
    // No view yet: layers added now are drawn once, when the page sets its
    // view (view() below), not first at a default view and again after it.
    var m = L.map(elId, { attributionControl: true, zoomSnap: 0.5 });
    // Labels are plain elements in their own pane (above the markers, as
    // tooltips were): placed without measuring them, so drawing a map costs
    // no layout per label.
    var pane = m.createPane("labels");
    pane.style.zIndex = 650;
    pane.style.pointerEvents = "none";
    m.attributionControl.setPrefix(false);
    L.control.scale({ metric: true, imperial: false }).addTo(m);
    var note = noteId ? document.getElementById(noteId) : null;
    if (tiles.url) {
      L.tileLayer(tiles.url, { attribution: tiles.attribution || "", maxZoom: 18 }).addTo(m);
      if (note) note.textContent = "";
    } else if (note) {
      note.textContent = text.no_background;
    }
    return m;
  }

  // The view of a map: its layers' bounds, or Kanazawa when there are none.
  function view(m, bounds, options) {
    if (bounds && bounds.isValid()) m.fitBounds(bounds, options || {});
    else m.setView([36.5613, 136.6562], 13);
  }

  // A page's map whose layers are gathered first and added once its view is
  // set: drawn once. shape() adds a GeoJSON shape (the view includes it
  // unless fit is false), fit() a point the view includes; show() sets the
  // view, draws the layers and returns the map (window.junkaiMap).
  function layeredMap(elId, noteId) {
    var m = map(elId, noteId);
    var layers = L.layerGroup();
    var bounds = L.latLngBounds([]);
    return {
      map: m,
      layers: layers,
      shape: function (geometry, style, fit) {
        var g = L.geoJSON(geometry, { style: style }).addTo(layers);
        if (fit !== false) bounds.extend(g.getBounds());
        return g;
      },
      fit: function (latlng) { bounds.extend(latlng); },
      show: function (options) {
        view(m, bounds, options);
        layers.addTo(m);
        window.junkaiMap = m;
        return m;
      }
    };
  }

  // A text label at a point (centred on it), in the labels pane.
  function label(latlng, content, cls) {
    return L.marker(latlng, {
      pane: "labels", interactive: false, keyboard: false,
      icon: L.divIcon({ className: "map-label " + cls, html: "<span>" + escapeHtml(content) + "</span>", iconSize: null })
    });
  }

  function unitLabels(m, units, minZoom) {
    var layer = L.layerGroup();
    (units || []).forEach(function (u) {
      var c;
      if (u.geometry.type === "Point") {
        // A label point only: no marker.
        c = L.latLng(u.geometry.coordinates[1], u.geometry.coordinates[0]);
      } else {
        var g = L.geoJSON(u.geometry, { style: { color: "#555", weight: 0.6, fill: false, interactive: false } });
        g.addTo(layer);
        c = u.label ? L.latLng(u.label[0], u.label[1]) : g.getBounds().getCenter();
      }
      if (u.name) label(c, u.name, "unit-label").addTo(layer);
    });
    function sync() {
      if (m.getZoom() >= (minZoom || 14)) { if (!m.hasLayer(layer)) layer.addTo(m); }
      else if (m.hasLayer(layer)) m.removeLayer(layer);
    }
    m.on("zoomend", sync);
    m.whenReady(sync);
    return layer;
  }

  function kobanMarker(m, k) {
    if (!k) return null;
    var icon = L.divIcon({ className: "koban-icon", iconSize: [14, 14] });
    var mk = L.marker([k.lat, k.lon], { icon: icon, title: k.name, alt: k.name, keyboard: false }).addTo(m);
    label([k.lat, k.lon], k.name, "koban-label").addTo(m);
    return mk;
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function gps(latInput, lonInput, done) {
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition(function (p) {
      latInput.value = p.coords.latitude.toFixed(6);
      lonInput.value = p.coords.longitude.toFixed(6);
      if (done) done(p.coords.latitude, p.coords.longitude);
    }, function () {}, { enableHighAccuracy: true, timeout: 10000 });
  }

  // The map drawn, then painted (read by benchmarks/bench_pages.py).
  function drawn() {
    if (!window.performance || !performance.mark) return;
    performance.mark("junkai-map-drawn");
    requestAnimationFrame(function () { setTimeout(function () { performance.mark("junkai-map-painted"); }, 0); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var pr = document.getElementById("print-page");
    if (pr) pr.addEventListener("click", function () { window.print(); });
  });

  return { data: data, tiles: tiles, text: text, csrf: csrf, post: post, map: map,
           unitLabels: unitLabels, kobanMarker: kobanMarker, escapeHtml: escapeHtml, gps: gps,
           drawn: drawn, view: view, label: label, layeredMap: layeredMap };
})();
