// orch dashboard: live output and state changes over server-sent events. No inline code
// anywhere (the page's Content-Security-Policy allows only this file).
(function () {
  "use strict";

  function typing() {
    var fields = document.querySelectorAll("textarea, input[type=text]");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value) return true;
    }
    var a = document.activeElement;
    return !!a && (a.tagName === "TEXTAREA" || a.tagName === "INPUT");
  }

  var reloadTimer = null;
  function changed() {
    if (reloadTimer) return;
    reloadTimer = setTimeout(function () {
      reloadTimer = null;
      if (typing()) {
        document.getElementById("stale").classList.remove("hidden");
      } else {
        window.location.reload();
      }
    }, 300);
  }

  function follow(pre) {
    var status = pre.parentNode.querySelector(".live-status");
    var source = new EventSource(pre.dataset.src);
    source.addEventListener("open", function () { status.textContent = "live"; });
    source.addEventListener("line", function (ev) {
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.appendChild(document.createTextNode(ev.data + "\n"));
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    });
    source.addEventListener("end", function () {
      source.close();
      status.textContent = "finished";
      pre.classList.add("ended");
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CONNECTING) status.textContent = "reconnecting…";
    });
  }

  function start() {
    if (!window.EventSource) return;
    var outputs = document.querySelectorAll("pre.live[data-src]");  // one per running task
    for (var j = 0; j < outputs.length; j++) follow(outputs[j]);
    var url = document.body.dataset.events;
    if (url) {
      var changes = new EventSource(url);
      changes.addEventListener("change", changed);
    }
    var forms = document.querySelectorAll("form");
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener("submit", function (ev) {
        var button = ev.target.querySelector("button");
        var ask = button && button.dataset.confirm;
        if (ask && !window.confirm(ask)) {
          ev.preventDefault();
          return;
        }
        if (button) button.disabled = true;
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
