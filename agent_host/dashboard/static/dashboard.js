// InfraGuardian dashboard: live regions. Our own few lines, served from /static (no CDN).
// A region <div data-live="incidents approvals" data-src="/fragments/..."> is re-fetched when the
// server sends one of its topics on /events; the fragment is HTML the server rendered and escaped.
(function () {
  "use strict";
  const status = () => document.getElementById("live-status");
  const pending = new Map(); // element -> timer: several events in a burst cost one fetch

  function setStatus(text, cls) {
    const el = status();
    if (el) { el.textContent = text; el.className = "live " + (cls || ""); }
  }

  async function refresh(el) {
    const src = el.getAttribute("data-src");
    if (!src) return;
    try {
      const response = await fetch(src, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (response.status === 401) { window.location.assign("/login?next=" + encodeURIComponent(location.pathname)); return; }
      if (!response.ok) return;
      const html = await response.text();
      const open = Array.from(el.querySelectorAll("details[open] > summary")).map((s) => s.textContent);
      el.innerHTML = html;
      el.querySelectorAll("details > summary").forEach((s) => { if (open.includes(s.textContent)) s.parentElement.open = true; });
      document.body.dataset.liveUpdates = String(Number(document.body.dataset.liveUpdates || "0") + 1);
    } catch (err) {
      setStatus("offline", "off");
    }
  }

  function schedule(topic) {
    document.querySelectorAll("[data-live]").forEach((el) => {
      const topics = el.getAttribute("data-live").split(/\s+/);
      if (!topics.includes(topic)) return;
      clearTimeout(pending.get(el));
      pending.set(el, setTimeout(() => { pending.delete(el); refresh(el); }, 150));
    });
  }

  function connect() {
    if (!window.EventSource || !document.querySelector("[data-live]")) return;
    const source = new EventSource("/events");
    source.addEventListener("hello", () => { setStatus("live", "on"); document.body.dataset.live = "connected"; });
    ["incidents", "approvals", "health"].forEach((topic) => source.addEventListener(topic, () => schedule(topic)));
    source.onerror = () => setStatus("reconnecting…", "off"); // EventSource reconnects by itself
  }

  document.addEventListener("DOMContentLoaded", connect);
})();
