// Ember dashboard: the live parts of the pages (topology and per-attachment I/O), pushed by Server-Sent Events, with
// polling of the same JSON every 2 s when EventSource is missing or the server refuses the stream; and image upload.
"use strict";
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const el = (name, attrs, text) => {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const getJson = async (url) => {
    const reply = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!reply.ok || !(reply.headers.get("content-type") || "").includes("json")) throw new Error(url + ": " + reply.status);
    return reply.json();
  };
  const every = (ms, fn) => { const tick = async () => { try { await fn(); } catch (e) { console.warn(e); } setTimeout(tick, ms); }; tick(); };
  // Each event's data goes to show(); if the stream cannot be had (or ends for good), poll the JSON URL instead.
  const live = (eventsUrl, pollUrl, show) => {
    let polling = false;
    // body[data-live] says which way the page is fed (the browser test checks the events arrive).
    const poll = () => { if (!polling) { polling = true; document.body.dataset.live = "polling"; every(2000, async () => show(await getJson(pollUrl))); } };
    if (!window.EventSource) { poll(); return; }
    const source = new EventSource(eventsUrl);
    source.onopen = () => { if (!polling) document.body.dataset.live = "events"; };
    source.onmessage = (e) => { try { show(JSON.parse(e.data)); } catch (err) { console.warn(err); } };
    source.addEventListener("end", () => { source.close(); poll(); });
    source.onerror = () => { if (source.readyState === EventSource.CLOSED) poll(); };
  };

  // Topology: volumes left, servers right, one edge per attachment labelled "mode · host".
  const topology = document.getElementById("topology");
  if (topology) {
    live("/dashboard/topology/events", "/dashboard/topology.json", (t) => {
      const row = 70, w = 230, h = 48, left = 30, right = 620;
      const place = new Map();
      topology.replaceChildren();
      const rows = Math.max(t.volumes.length, t.servers.length, 1);
      topology.setAttribute("viewBox", `0 0 ${right + w + 30} ${rows * row + 30}`);
      topology.setAttribute("height", rows * row + 30);
      const node = (x, y, item, kind, sub) => {
        const g = el("g", { class: `node ${kind}${item.multiattach ? " multi" : ""}`, "data-id": item.id, transform: `translate(${x},${y})` });
        g.append(el("rect", { width: w, height: h, rx: 6 }), el("text", { x: 10, y: 20 }, item.name || item.id.slice(0, 8)), el("text", { x: 10, y: 38, class: "sub" }, sub));
        const link = el("a", { href: `/dashboard/${kind === "volume" ? "volumes" : "servers"}/${encodeURIComponent(item.id)}` });
        link.append(g);
        return link;
      };
      const edges = el("g"), nodes = el("g");
      t.volumes.forEach((v, i) => { place.set("v" + v.id, [left + w, 20 + i * row + h / 2]); nodes.append(node(left, 20 + i * row, v, "volume", `volume · ${v.status}${v.multiattach ? " · multiattach" : ""}`)); });
      t.servers.forEach((s, i) => { place.set("s" + s.id, [right, 20 + i * row + h / 2]); nodes.append(node(right, 20 + i * row, s, "server", `server · ${s.status}${s.host ? " · " + s.host : ""}`)); });
      t.edges.forEach((e, i) => {
        const a = place.get("v" + e.volume), b = place.get("s" + e.server);
        if (!a || !b) return;
        edges.append(el("line", { class: `edge ${e.mode}`, "data-volume": e.volume, "data-server": e.server, x1: a[0], y1: a[1], x2: b[0], y2: b[1] }));
        const f = 0.35 + 0.3 * ((i % 3) / 2);
        edges.append(el("text", { class: "edge-label", x: a[0] + (b[0] - a[0]) * f, y: a[1] + (b[1] - a[1]) * f - 6 }, `${e.mode}${e.host ? " · " + e.host : ""}`));
      });
      topology.append(edges, nodes);
      topology.dataset.edges = String(t.edges.length);
    });
  }

  // Per-attachment I/O: rates from the NBD counters, a small SVG line per attachment (read blue, write orange).
  const io = document.getElementById("io");
  if (io) {
    const history = new Map();
    let last = null;
    const fmt = (n) => n >= 1048576 ? (n / 1048576).toFixed(1) + " MiB/s" : n >= 1024 ? (n / 1024).toFixed(1) + " KiB/s" : n.toFixed(0) + " B/s";
    const ioUrl = `/dashboard/volumes/${encodeURIComponent(io.dataset.volume)}/io`;
    live(ioUrl + "/events", ioUrl, (now) => {
      const at = Date.parse(now.at);
      io.replaceChildren();
      if (now.attachments.length === 0) { io.append(Object.assign(document.createElement("p"), { className: "muted", textContent: "No NBD export: the volume is not attached (or its backend serves no NBD)." })); }
      for (const a of now.attachments) {
        const key = a.attachment_id || "export";
        const prev = last && last.attachments.find((p) => p.attachment_id === a.attachment_id);
        const seconds = prev ? (at - Date.parse(last.at)) / 1000 : 0;
        const rate = seconds > 0 ? {
          read: (a.bytes_read - prev.bytes_read) / seconds, write: (a.bytes_written - prev.bytes_written) / seconds,
          iops: (a.operations - prev.operations) / seconds,
          latency: a.operations > prev.operations ? (a.busy_seconds - prev.busy_seconds) * 1000 / (a.operations - prev.operations) : 0,
        } : { read: 0, write: 0, iops: 0, latency: 0 };
        const h = history.get(key) || [];
        h.push(rate); if (h.length > 60) h.shift(); history.set(key, h);
        const max = Math.max(1, ...h.map((r) => Math.max(r.read, r.write)));
        const line = (f) => h.map((r, i) => `${i * 5},${58 - (f(r) / max) * 56}`).join(" ");
        const svg = el("svg", { class: "io-graph", width: 300, height: 60, viewBox: "0 0 300 60" });
        svg.append(el("polyline", { class: "read", points: line((r) => r.read) }), el("polyline", { class: "write", points: line((r) => r.write) }));
        const row = Object.assign(document.createElement("div"), { className: "io-row" });
        const figures = Object.assign(document.createElement("div"), { className: "figures" });
        figures.textContent = `${key.slice(0, 8)} (${a.mode}): read ${fmt(rate.read)}, write ${fmt(rate.write)}, ${rate.iops.toFixed(0)} IOPS, ${rate.latency.toFixed(2)} ms · total ${(a.bytes_read / 1048576).toFixed(1)} MiB read, ${(a.bytes_written / 1048576).toFixed(1)} MiB written`;
        row.append(svg, figures);
        io.append(row);
      }
      last = now;
    });
  }

  // Image upload: create the record (the form's fields), then PUT the file with upload progress; errors are the API's message.
  const upload = document.getElementById("upload-image");
  if (upload) {
    const bar = document.getElementById("upload-progress"), status = document.getElementById("upload-status");
    const csrf = document.querySelector("meta[name=csrf]").content;
    const say = (text, error) => { status.textContent = text; status.className = error ? "error" : "muted"; };
    const put = (url, file) => new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) { bar.value = (e.loaded * 100) / e.total; say(`${(e.loaded / 1048576).toFixed(1)} of ${(e.total / 1048576).toFixed(1)} MiB`); } };
      xhr.onload = () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch { /* not JSON: the status line says it */ }
        xhr.status >= 200 && xhr.status < 300 ? resolve(body) : reject(new Error(body.message || `${xhr.status} ${xhr.statusText}`));
      };
      xhr.onerror = () => reject(new Error("The upload was interrupted."));
      xhr.send(file);
    });
    upload.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = upload.elements.file.files[0];
      if (!file) return;
      const button = upload.querySelector("button");
      button.disabled = true;
      bar.hidden = false; bar.value = 0;
      try {
        const fields = new FormData(upload);
        fields.delete("file");
        const reply = await fetch(upload.action, { method: "POST", body: new URLSearchParams(fields), credentials: "same-origin", headers: { Accept: "application/json" } });
        const created = await reply.json().catch(() => ({}));
        if (!reply.ok) throw new Error(created.message || `${reply.status} ${reply.statusText}`);
        const done = await put(created.file, file);
        bar.value = 100;
        say(`${done.status}: ${done.size} bytes, md5 ${done.checksum}`);
        setTimeout(() => location.reload(), 800);
      } catch (e) {
        say(e.message, true);
      } finally {
        button.disabled = false;
      }
    });
  }
})();
