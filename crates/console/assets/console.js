// Rapport console: keyboard shortcuts, dates in the agent's time zone, live panels over
// server-sent events, and a banner when a request fails. No build step; needs htmx for panels.
(function () {
  "use strict";

  var lang = document.documentElement.lang || undefined;
  var formats = {
    datetime: new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }),
    date: new Intl.DateTimeFormat(lang, { dateStyle: "medium" }),
    // A calendar date (a birthday): no zone shift.
    day: new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeZone: "UTC" })
  };

  // Every <time datetime> in the agent's zone and the page's language; the UTC text stays as
  // the tooltip.
  function formatTimes(root) {
    var times = root.querySelectorAll ? root.querySelectorAll("time[datetime]") : [];
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var at = new Date(el.getAttribute("datetime"));
      var format = formats[el.getAttribute("data-fmt")] || formats.datetime;
      if (isNaN(at.getTime()) || el.hasAttribute("data-local")) continue;
      el.title = el.textContent;
      el.textContent = format.format(at);
      el.setAttribute("data-local", "");
    }
  }

  // "/" goes to the search box unless the agent is typing somewhere.
  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var search = document.getElementById("q");
    if (!search) return;
    event.preventDefault();
    search.focus();
    search.select();
  });

  // Requests that fail show the banner until one succeeds.
  function banner(show) {
    var el = document.getElementById("request-error");
    if (el) el.hidden = !show;
  }
  document.addEventListener("htmx:sendError", function () { banner(true); });
  document.addEventListener("htmx:responseError", function () { banner(true); });
  document.addEventListener("htmx:afterSwap", function () { banner(false); });

  // Live panels: an event named N refreshes every element whose data-live lists N.
  var timers = new WeakMap();
  function refresh(name) {
    var panels = document.querySelectorAll("[data-live]");
    for (var i = 0; i < panels.length; i++) {
      var panel = panels[i];
      if (panel.getAttribute("data-live").split(" ").indexOf(name) < 0) continue;
      clearTimeout(timers.get(panel));
      timers.set(panel, setTimeout(function (p) {
        if (window.htmx) window.htmx.trigger(p, "refresh");
      }, 200, panel));
    }
  }

  function connect(body) {
    var url = body.getAttribute("data-live-url");
    if (!url || !window.EventSource) return;
    var status = document.getElementById("live-status");
    function show(on) {
      if (!status) return;
      status.textContent = status.getAttribute(on ? "data-on" : "data-off");
      status.classList.toggle("on", on);
    }
    var source = new EventSource(url);
    source.onopen = function () { show(true); };
    source.onerror = function () { show(false); };
    (body.getAttribute("data-live-events") || "").split(" ").forEach(function (name) {
      if (name) source.addEventListener(name, function () { refresh(name); });
    });
    source.addEventListener("reload", function () { window.location.reload(); });
    // Leaving the page (a form sent, such as signing out, or a link followed) closes the
    // stream first, so its end is not mistaken for the session's.
    var leaving = false;
    function leave() { leaving = true; source.close(); }
    document.addEventListener("submit", leave);
    window.addEventListener("beforeunload", leave);
    // The session ended (inactivity, sign-out elsewhere): the stream ends; sign in again.
    source.addEventListener("signed-out", function () {
      if (leaving) return;
      source.close();
      var here = window.location.pathname + window.location.search;
      window.location.assign((body.getAttribute("data-signin-url") || "/console/login") +
        "?next=" + encodeURIComponent(here) + "&notice=ended");
    });
  }

  function start() {
    formatTimes(document);
    if (window.htmx) window.htmx.onLoad(formatTimes);
    var search = document.getElementById("q");
    if (search && document.activeElement !== search) search.focus();
    connect(document.body);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
