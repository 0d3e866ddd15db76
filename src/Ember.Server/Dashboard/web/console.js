// The serial console page: xterm.js bridged to the API's one-use console websocket (the URL comes from a CSRF-checked POST).
"use strict";
(() => {
  const box = document.getElementById("terminal");
  const state = document.getElementById("console-state");
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const term = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, rows: 28 });
  term.open(box);
  term.focus();
  window.emberTerminal = term; // for the browser test: what the terminal shows
  (async () => {
    const reply = await fetch(`/dashboard/servers/${encodeURIComponent(box.dataset.server)}/console-url`, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
    });
    if (!reply.ok || !(reply.headers.get("content-type") || "").includes("json")) { state.textContent = "cannot open the console (" + reply.status + ")"; return; }
    const { path } = await reply.json();
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`, ["binary"]);
    ws.binaryType = "arraybuffer";
    const encoder = new TextEncoder();
    ws.onopen = () => { state.textContent = "connected"; ws.send(encoder.encode("\r")); };
    ws.onclose = () => { state.textContent = "disconnected"; };
    ws.onmessage = (m) => term.write(typeof m.data === "string" ? m.data : new Uint8Array(m.data));
    term.onData((d) => { if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(d)); });
  })();
})();
