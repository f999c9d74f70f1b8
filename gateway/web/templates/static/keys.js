// The page's few lines of script (issue 15), all optional: local times for <time datetime>,
// the text typed in forms kept across the RU/EN switch, and the operators' keyboard:
// j/k move through the queue's rows, Enter opens one, r goes to the reply box, / to the
// search. Never while typing in a field.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
  var at = -1;
  function mark(i) {
    if (!rows.length) { return; }
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, k) { r.classList.toggle("current", k === at); });
    var link = rows[at].querySelector("a");
    if (link) { link.focus(); }
  }
  function localTimes() {
    document.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) {
        t.title = t.textContent;
        t.textContent = d.toLocaleString(document.documentElement.lang, {
          year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"
        });
      }
    });
  }
  localTimes();
  var KEEP = "keep:" + location.pathname;
  function fields() {
    return Array.prototype.slice.call(document.querySelectorAll(
      "main textarea[name], main input[name][type=text], main input[name][type=search], " +
      "main input[name][type=email], main input[name]:not([type])"));
  }
  document.querySelectorAll(".lang a").forEach(function (a) {
    a.addEventListener("click", function () {
      var kept = {};
      fields().forEach(function (f) { if (f.value) { kept[f.id || f.name] = f.value; } });
      try { sessionStorage.setItem(KEEP, JSON.stringify(kept)); } catch (e) { /* private mode */ }
    });
  });
  try {
    var saved = JSON.parse(sessionStorage.getItem(KEEP) || "{}");
    sessionStorage.removeItem(KEEP);
    fields().forEach(function (f) {
      var value = saved[f.id || f.name];
      if (value && !f.value) { f.value = value; }
    });
  } catch (e) { /* nothing kept */ }
  document.addEventListener("keydown", function (e) {
    var tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || e.ctrlKey || e.metaKey || e.altKey) {
      return;
    }
    if (e.key === "j") { mark(at + 1); e.preventDefault(); }
    else if (e.key === "k") { mark(at - 1); e.preventDefault(); }
    else if (e.key === "r") {
      var reply = document.getElementById("reply");
      if (reply) { reply.focus(); e.preventDefault(); }
    } else if (e.key === "/") {
      var q = document.getElementById("q");
      if (q) { q.focus(); e.preventDefault(); }
      else if (document.body.classList.contains("area-op")) { window.location = "/op/search"; }
    }
  });
})();
