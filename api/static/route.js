/* The officer's route page: map of the stops, one-tap results, re-plan position. */
"use strict";
performance.mark("t-route-js");
(function () {
  var J = window.junkai, d = J.data;
  // No plan made ahead for the day: it is being made; show it when stored.
  if (d.pending) {
    var note = document.getElementById("plan-pending");
    var url = "/route/" + encodeURIComponent(d.officer_id) + "/" + d.date + "/plan-status";
    var ask = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          if (j.ready) { window.location.reload(); return; }
          if (j.error) { if (note) note.textContent = J.text.plan_failed + ": " + j.error; return; }
          setTimeout(ask, 400);
        })
        .catch(function () { setTimeout(ask, 2000); });
    };
    setTimeout(ask, 300);
  }
  var pm = J.layeredMap("map", "map-note");
  (d.beats || []).forEach(function (b) {
    var g = pm.shape(b.geometry, { color: "#0017c1", weight: 2, fillOpacity: 0.04 });
    J.label(b.label ? b.label : g.getBounds().getCenter(), b.name, "beat-label").addTo(pm.layers);
  });
  var line = [];
  if (d.start) line.push([d.start.lat, d.start.lon]);
  var markers = {};
  (d.stops || []).forEach(function (s) {
    if (s.path) s.path.forEach(function (p) { line.push([p[1], p[0]]); });
    line.push([s.lat, s.lon]);
    var icon = L.divIcon({ className: "stop-icon", html: String(s.order), iconSize: [24, 24] });
    var mk = L.marker([s.lat, s.lon], { icon: icon, title: s.order + " " + s.address, alt: s.order + " " + s.address, keyboard: false }).addTo(pm.layers);
    mk.on("click", function () {
      var el = document.getElementById("stop-" + s.order);
      if (el) el.scrollIntoView({ behavior: "smooth", block: "center" });
    });
    markers[s.order] = mk;
  });
  if (d.start) line.push([d.start.lat, d.start.lon]);
  if (line.length > 1) L.polyline(line, { color: "#0017c1", weight: 3, opacity: 0.7 }).addTo(pm.layers);
  line.forEach(pm.fit);
  // The koban's marker and label go straight onto the map, before its view
  // is set, as before the shared helper: the view is the beats' and route's.
  J.kobanMarker(pm.map, d.koban);
  var m = pm.show({ padding: [20, 20] });
  J.unitLabels(m, d.units, 14);

  function markDone(tr) {
    var li = tr.closest("li.stop");
    var rows = li.querySelectorAll("tr.hh-row");
    var allDone = Array.prototype.every.call(rows, function (r) { return r.classList.contains("done"); });
    var mk = markers[li.dataset.order];
    if (allDone && mk && mk._icon) mk._icon.classList.add("done");
  }
  document.querySelectorAll("tr.hh-row.done").forEach(markDone);

  // One tap records a result; the form posts without JavaScript too.
  document.querySelectorAll("form.outcomes").forEach(function (f) {
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var btn = ev.submitter;
      var fd = new FormData(f);
      fd.set("outcome", btn.value);
      var buttons = f.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      J.post(f.action, fd).then(function () {
        var tr = f.closest("tr");
        var wasDone = tr.classList.contains("done");
        tr.classList.add("done");
        var res = tr.querySelector(".result");
        res.textContent = btn.textContent;
        res.dataset.result = btn.value;
        if (!wasDone) {
          var c = document.getElementById("done-count");
          c.textContent = String(parseInt(c.textContent, 10) + 1);
        }
        // A new key: a second tap on this household is a new result, not a resend.
        f.querySelector('input[name="key"]').value = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/-/g, "");
        markDone(tr);
      }).catch(function (e) {
        f.closest("tr").querySelector(".result").textContent = J.text.failed + " (" + e.message + ")";
      }).finally(function () { buttons.forEach(function (b) { b.disabled = false; }); });
    });
  });

  // Re-plan from a position: GPS, or a tap on the map.
  var lat = document.getElementById("rp-lat"), lon = document.getElementById("rp-lon");
  var here = null;
  function setHere(la, lo) {
    if (here) m.removeLayer(here);
    here = L.circleMarker([la, lo], { radius: 9, color: "#d73027", weight: 3 }).addTo(m).bindTooltip(J.text.you_are_here);
  }
  if (lat && lon) {
    m.on("click", function (e) {
      lat.value = e.latlng.lat.toFixed(6); lon.value = e.latlng.lng.toFixed(6);
      setHere(e.latlng.lat, e.latlng.lng);
    });
    var g = document.getElementById("use-gps");
    if (g) g.addEventListener("click", function () { J.gps(lat, lon, setHere); });
  }
  J.drawn();
})();
