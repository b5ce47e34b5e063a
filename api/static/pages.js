/* Shared by every page: the page's data, CSRF-carrying fetch, and maps
   (Leaflet served by the service; a tile layer only when one is configured). */
"use strict";
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
    var m = L.map(elId, { attributionControl: true, zoomSnap: 0.5 });
    // A view before any layer: permanent labels need one to place themselves.
    m.setView([36.5613, 136.6562], 13);
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
        c = g.getBounds().getCenter();
      }
      if (u.name) {
        L.tooltip({ permanent: true, direction: "center", className: "unit-label", interactive: false })
          .setLatLng(c).setContent(escapeHtml(u.name)).addTo(layer);
      }
    });
    function sync() {
      if (m.getZoom() >= (minZoom || 14)) { if (!m.hasLayer(layer)) layer.addTo(m); }
      else if (m.hasLayer(layer)) m.removeLayer(layer);
    }
    m.on("zoomend", sync);
    sync();
    return layer;
  }

  function kobanMarker(m, k) {
    if (!k) return null;
    var icon = L.divIcon({ className: "koban-icon", iconSize: [14, 14] });
    var mk = L.marker([k.lat, k.lon], { icon: icon, title: k.name, alt: k.name, keyboard: false }).addTo(m);
    mk.bindTooltip(escapeHtml(k.name), { permanent: true, direction: "right", className: "koban-label", offset: [8, 0] });
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

  document.addEventListener("DOMContentLoaded", function () {
    var pr = document.getElementById("print-page");
    if (pr) pr.addEventListener("click", function () { window.print(); });
  });

  return { data: data, tiles: tiles, text: text, csrf: csrf, post: post, map: map,
           unitLabels: unitLabels, kobanMarker: kobanMarker, escapeHtml: escapeHtml, gps: gps };
})();
