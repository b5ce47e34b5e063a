"use strict";
(function () {
  var J = window.junkai, d = J.data;
  var m = J.map("map", "map-note");
  var layers = L.layerGroup();  // added once the view is set
  var all = L.latLngBounds([]);
  (d.beats || []).forEach(function (b) {
    var g = L.geoJSON(b.geometry, { style: { color: "#0017c1", weight: 1.5, fillOpacity: 0.03 } }).addTo(layers);
    all.extend(g.getBounds());
    J.label(g.getBounds().getCenter(), b.beat_id, "beat-label").addTo(layers);
  });
  (d.moves || []).forEach(function (u) {
    if (!u.geometry) return;
    var g = L.geoJSON(u.geometry, { style: { color: "#d73027", weight: 3, fillColor: "#fc8d59", fillOpacity: 0.6 } }).addTo(layers);
    J.label(g.getBounds().getCenter(), u.name + ": " + u.from_beat + " → " + u.to_beat, "unit-label change-label").addTo(layers);
  });
  J.view(m, all);
  layers.addTo(m);
  window.junkaiMap = m;
})();
