// The live dashboard: every two seconds ask /api/page for the sections that changed since the
// version on screen, and swap them in. No libraries; nothing else is fetched.
(function () {
  "use strict";
  var body = document.body;
  var status = document.getElementById("live-status");
  var version = Number(body.dataset.version || 0);
  var failures = 0;
  function show(text) { if (status) { status.textContent = text; } }
  function apply(p) {
    if (p.sections) {
      document.title = "coalition · " + (p.title || "");
      p.sections.forEach(function (pair) {
        var el = document.getElementById("s-" + pair[0]);
        if (el) { el.innerHTML = pair[1]; }
      });
      body.dataset.refreshes = String(Number(body.dataset.refreshes || 0) + 1);
    }
    version = p.version;
    body.dataset.version = String(p.version);
    body.dataset.rounds = String(p.rounds_committed);
    body.dataset.status = p.status;
  }
  function tick() {
    fetch("api/page?since=" + version, { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (p) {
        failures = 0;
        apply(p);
        show("live · " + p.status + " · updated " + new Date().toLocaleTimeString());
      })
      .catch(function (e) {
        failures += 1;
        show("not reachable (" + e.message + "); the run may have ended · retrying");
      })
      .then(function () { setTimeout(tick, failures ? 5000 : 2000); });
  }
  setTimeout(tick, 1000);
})();
