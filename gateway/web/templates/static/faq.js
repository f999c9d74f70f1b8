// Progressive: while the subject is typed, offer up to three FAQ entries.
// Without JavaScript the form works the same, only without suggestions.
(function () {
  "use strict";
  var subject = document.getElementById("subject");
  var box = document.getElementById("faq");
  if (!subject || !box) { return; }
  var list = box.querySelector("ul");
  var timer = null;
  var last = "";
  function show(entries) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    entries.forEach(function (e) {
      var li = document.createElement("li");
      var details = document.createElement("details");
      var summary = document.createElement("summary");
      summary.textContent = e.question;          // textContent: never HTML
      var p = document.createElement("p");
      p.textContent = e.answer;
      details.appendChild(summary);
      details.appendChild(p);
      if (e.url) {
        var a = document.createElement("a");
        a.href = e.url; a.textContent = e.url; a.rel = "noopener"; a.target = "_blank";
        details.appendChild(a);
      }
      li.appendChild(details);
      list.appendChild(li);
    });
    box.hidden = entries.length === 0;
  }
  function ask() {
    var q = subject.value.trim();
    if (q === last) { return; }
    last = q;
    if (q.length < 3) { show([]); return; }
    fetch("/faq?q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(show)
      .catch(function () { /* suggestions are a nicety */ });
  }
  subject.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 250);
  });
  // A subject typed before this script ran (a slow page), or kept across the language
  // switch, gets its suggestions too.
  window.addEventListener("load", function () { if (subject.value.trim()) { ask(); } });
})();
