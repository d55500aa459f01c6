/* pgflow dashboard: dark mode, keyboard shortcuts, help overlay, tidy filter links, live updates.
   Plain JavaScript, no build step. Pages work without it; it only adds comfort and liveness.

   Live updates: the page listens to the Server-Sent Events endpoint (body[data-sse]) and, on any
   event, re-fetches its own URL with "X-Pgflow-Fragment: 1" and swaps the <main> content; events
   are debounced to at most one refresh per second. Without an event stream (no EventSource, no
   endpoint, or the stream keeps failing) it refreshes every body[data-refresh] seconds. */
(function () {
  "use strict";

  var body = document.body;
  var root = body.getAttribute("data-root") || "";
  var html = document.documentElement;

  // ------------------------------------------------------------------ dark mode
  var toggle = document.getElementById("theme-toggle");
  function isDark() { return html.getAttribute("data-theme") === "dark"; }
  function showTheme() { if (toggle) toggle.setAttribute("aria-pressed", isDark() ? "true" : "false"); }
  function flipTheme() {
    var next = isDark() ? "light" : "dark";
    html.setAttribute("data-theme", next);
    try { localStorage.setItem("pgflow-theme", next); } catch (e) { /* private mode */ }
    showTheme();
  }
  if (toggle) toggle.addEventListener("click", flipTheme);
  showTheme();

  // ------------------------------------------------------------------ help overlay
  var help = document.getElementById("help");
  var lastFocus = null;
  function openHelp() {
    if (!help || !help.hidden) return;
    lastFocus = document.activeElement;
    help.hidden = false;
    var close = document.getElementById("help-close");
    if (close) close.focus();
  }
  function closeHelp() {
    if (!help || help.hidden) return;
    help.hidden = true;
    if (lastFocus && lastFocus.focus) lastFocus.focus();
  }
  var openButton = document.getElementById("help-open");
  if (openButton) openButton.addEventListener("click", openHelp);
  var closeButton = document.getElementById("help-close");
  if (closeButton) closeButton.addEventListener("click", closeHelp);
  if (help) help.addEventListener("click", function (e) { if (e.target === help) closeHelp(); });

  // ------------------------------------------------------------------ keyboard shortcuts
  var GO = { o: "/", r: "/runs", f: "/flows", j: "/jobs", s: "/schedules", w: "/workers" };
  var gPressed = 0;
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName))) return;
    if (e.key === "Escape") { closeHelp(); return; }
    if (gPressed && Date.now() - gPressed < 1500) {
      gPressed = 0;
      if (GO[e.key]) { e.preventDefault(); window.location.href = root + GO[e.key]; }
      return;
    }
    if (e.key === "g") { gPressed = Date.now(); return; }
    if (e.key === "d") { e.preventDefault(); flipTheme(); return; }
    if (e.key === "?") { e.preventDefault(); if (help && !help.hidden) closeHelp(); else openHelp(); }
  });

  // ------------------------------------------------------------------ filters: short, shareable URLs
  document.addEventListener("change", function (e) {
    var form = e.target && e.target.form;
    if (form && form.hasAttribute("data-autosubmit") && e.target.tagName === "SELECT") form.requestSubmit();
  });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute("data-autosubmit")) return;
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && (!el.value || el.value === el.getAttribute("data-default"))) el.disabled = true;
    });
  });

  // ------------------------------------------------------------------ live updates
  var live = body.getAttribute("data-live") || "";
  var statusEl = document.getElementById("live-status");
  var refreshMs = Math.max(parseFloat(body.getAttribute("data-refresh") || "5"), 1) * 1000;
  var timer = null, inFlight = false, again = false, lastRefresh = 0, pollTimer = null;

  function setStatus(state, text) {
    if (!statusEl) return;
    statusEl.setAttribute("data-state", state);
    statusEl.textContent = text;
  }

  function schedule(delay) {
    if (timer) return;
    timer = setTimeout(function () { timer = null; refresh(); }, delay);
  }

  function onEvent() {
    // debounce: wait for a burst to settle a little, never more than one refresh per second
    schedule(Math.max(250, 1000 - (Date.now() - lastRefresh)));
  }

  function busy(main) {
    var sel = window.getSelection && window.getSelection();
    if (sel && !sel.isCollapsed && main.contains(sel.anchorNode)) return true;
    var a = document.activeElement;
    return !!(a && main.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName));
  }

  function detailsKey(d, i) {
    var holder = d.closest("[id]");
    var summary = d.querySelector("summary");
    return (holder ? holder.id : "") + "|" + (summary ? summary.textContent : "") + "|" + i;
  }

  function swap(text) {
    var main = document.getElementById("content");
    if (!main) return;
    var open = {};
    main.querySelectorAll("details").forEach(function (d, i) { if (d.open) open[detailsKey(d, i)] = true; });
    main.innerHTML = text;
    main.querySelectorAll("details").forEach(function (d, i) { if (open[detailsKey(d, i)]) d.open = true; });
    var page = document.getElementById("page");
    if (page && page.getAttribute("data-title")) document.title = page.getAttribute("data-title");
    document.dispatchEvent(new CustomEvent("pgflow:refreshed"));
  }

  function refresh() {
    var main = document.getElementById("content");
    if (!main) return;
    if (document.hidden || inFlight || busy(main)) { again = true; return; }
    inFlight = true;
    lastRefresh = Date.now();
    fetch(window.location.href, { headers: { "X-Pgflow-Fragment": "1" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok && r.status !== 404) throw new Error("HTTP " + r.status); return r.text(); })
      .then(swap)
      .catch(function () { setStatus("error", "refresh failed"); })
      .then(function () {
        inFlight = false;
        if (again) { again = false; schedule(1000); }
      });
  }

  document.addEventListener("visibilitychange", function () { if (!document.hidden && again) { again = false; refresh(); } });

  function startPolling(reason) {
    if (pollTimer) return;
    setStatus("polling", "refresh every " + Math.round(refreshMs / 1000) + " s");
    if (statusEl && reason) statusEl.title = reason;
    pollTimer = setInterval(refresh, refreshMs);
  }

  var EVENT_TYPES = ["run:started", "run:completed", "run:failed", "run:cancelled", "step:started", "step:completed",
                     "step:failed", "step:skipped", "step:progress", "task:started", "task:completed", "task:failed"];

  // body[data-live]: "run:<id>" (one run), "flow:<slug>" (runs of one flow) or "all". The run
  // page only needs to know that something changed: it asks for map progress counts (at most
  // two a second per step) instead of every task event, so a 10,000-item map costs it little.
  function streamUrl(base) {
    if (live.indexOf("run:") === 0) return base + "/runs/" + encodeURIComponent(live.slice(4)) + "?tasks=progress";
    if (live.indexOf("flow:") === 0) return base + "/runs?flow=" + encodeURIComponent(live.slice(5));
    return base + "/runs";
  }

  function connect() {
    var base = body.getAttribute("data-sse");
    if (!base || !window.EventSource) { startPolling("no event stream available"); return; }
    var failures = 0;
    var source = new EventSource(streamUrl(base), { withCredentials: true });
    source.onopen = function () { failures = 0; setStatus("live", "live"); };
    source.onmessage = onEvent;
    EVENT_TYPES.forEach(function (name) { source.addEventListener(name, onEvent); });
    source.addEventListener("snapshot", function (e) {
      // the first snapshot is what the page already shows; later ones follow a gap or a reconnect
      var reason = "";
      try { reason = JSON.parse(e.data).reason; } catch (err) { /* not JSON */ }
      if (reason && reason !== "initial") onEvent();
    });
    source.addEventListener("run:finished", function () {
      source.close();  // the run will not change again; the stream ends here
      setStatus("off", "finished");
      onEvent();
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED && statusEl && statusEl.getAttribute("data-state") === "off") return;
      failures += 1;
      if (source.readyState === EventSource.CLOSED || failures >= 3) {
        source.close();
        startPolling("the event stream is unavailable");
      } else {
        setStatus("polling", "reconnecting");
      }
    };
    // events never tell about heartbeats or queue depths: refresh those now and then anyway
    if (live.indexOf("run:") !== 0) setInterval(refresh, Math.max(refreshMs * 6, 30000));
  }

  if (body.getAttribute("data-live-enabled") !== "yes" || !live) {
    setStatus("off", live ? "live off" : "static");
  } else if (live === "poll") {
    startPolling("this page has no events to follow");
  } else {
    connect();
  }

  window.pgflowDashboard = { refresh: refresh, flipTheme: flipTheme };
})();
