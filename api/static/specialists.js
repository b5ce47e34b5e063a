/* The 専従員 page's map: districts outlined and labelled with their officers (no personal data). */
"use strict";
(function () {
  var J = window.junkai, d = J.data;
  var pm = J.layeredMap("map", "map-note");
  (d.beats || []).forEach(function (b) {
    pm.shape(b.geometry, { color: "#555", weight: 1, dashArray: "4 3", fill: false, interactive: false });
  });
  (d.districts || []).forEach(function (s) {
    var who = s.officers.length ? s.officers.join("・") : J.text.sp_unassigned;
    var label = s.district_id + " " + s.name + " · " + who;
    var at = [s.lat, s.lon];
    if (s.geometry) {
      at = pm.shape(s.geometry, { color: "#7b3294", weight: 3, fillColor: "#c2a5cf", fillOpacity: 0.35 }).getBounds().getCenter();
    } else {
      pm.fit(at);
    }
    J.label(at, label, "district-label").addTo(pm.layers);
  });
  var m = pm.show({ padding: [16, 16] });
  (d.koban || []).forEach(function (k) { J.kobanMarker(m, k); });
})();
