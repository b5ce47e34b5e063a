/* The 専従員 page's map: districts outlined and labelled with their officers (no personal data). */
"use strict";
(function () {
  var J = window.junkai, d = J.data;
  var m = J.map("map", "map-note");
  var layers = L.layerGroup();  // added once the view is set
  var all = L.latLngBounds([]);
  (d.beats || []).forEach(function (b) {
    var g = L.geoJSON(b.geometry, { style: { color: "#555", weight: 1, dashArray: "4 3", fill: false, interactive: false } }).addTo(layers);
    all.extend(g.getBounds());
  });
  (d.districts || []).forEach(function (s) {
    var who = s.officers.length ? s.officers.join("・") : J.text.sp_unassigned;
    var label = s.district_id + " " + s.name + " · " + who;
    var at = [s.lat, s.lon];
    if (s.geometry) {
      var g = L.geoJSON(s.geometry, { style: { color: "#7b3294", weight: 3, fillColor: "#c2a5cf", fillOpacity: 0.35 } }).addTo(layers);
      at = g.getBounds().getCenter();
      all.extend(g.getBounds());
    } else {
      all.extend(at);
    }
    J.label(at, label, "district-label").addTo(layers);
  });
  J.view(m, all, { padding: [16, 16] });
  layers.addTo(m);
  (d.koban || []).forEach(function (k) { J.kobanMarker(m, k); });
  window.junkaiMap = m;
})();
