// Shared helpers of the dashboard's pages: fetch with the CSRF header, polling, text-only DOM.
"use strict";
const HL = (() => {
  const body = document.body;
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const COLORS = {
    good: "#2e7d32", dead: "#424242", hot: "#d32f2f", noisy: "#f57c00",
    partial: "#7b1fa2", unreadable: "#9e9e9e", "no-statistics": "#90a4ae",
  };
  const FAULTS = new Set(["dead", "hot", "noisy", "partial"]);

  class HttpError extends Error {
    constructor(status, detail) { super(`${status}: ${detail}`); this.status = status; this.detail = detail; }
  }

  async function detail(response) {
    try {
      const data = await response.json();
      if (typeof data.detail === "string") return data.detail;
      if (Array.isArray(data.detail)) return data.detail.map((d) => d.msg).join("; ");
      return JSON.stringify(data);
    } catch (_) { return response.statusText; }
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new HttpError(response.status, await detail(response));
    return response.json();
  }

  async function postJSON(url, data) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(data),
    });
    if (!response.ok) throw new HttpError(response.status, await detail(response));
    return response.json();
  }

  // An element with text children only: nothing from the data is ever parsed as HTML.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const td = (text, cls) => el("td", { class: cls }, text);
  const score = (value) => (value === null || value === undefined ? "–" : Number(value).toPrecision(3));
  const verdictSpan = (verdict) => el("span", { class: `verdict v-${verdict}` }, verdict);
  const span = (first, last) => (first === last ? `${first}` : `${first}–${last}`);

  function ranges(list) {
    return list.length ? list.map(([a, b]) => span(a, b)).join(", ") : "none";
  }

  // Poll /api/changes; call onChange (async) whenever a verdict or an override was added.
  function watchChanges(onChange, initial) {
    const live = document.getElementById("live");
    const period = Number(body.dataset.pollMs || 2000);
    let last = initial ? JSON.stringify(initial) : null;
    async function tick() {
      try {
        const state = await getJSON("/api/changes");
        live.className = "live on";
        const key = JSON.stringify(state);
        if (last !== null && key !== last) await onChange(state);
        last = key;
        body.dataset.lastVerdict = state.last_verdict;
        body.dataset.lastOverride = state.last_override;
      } catch (_) {
        live.className = "live off";
      }
      setTimeout(tick, period);
    }
    setTimeout(tick, period);
  }

  const readOnly = () => body.dataset.readOnly === "true";

  // The certification form: POST /api/certification, then after(result).
  function certificationForm(form, fixed, after) {
    const status = form.querySelector("[role=status]");
    if (readOnly()) {
      form.replaceChildren(el("p", { class: "help" }, "This dashboard is read-only: certification is off."));
      return;
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const first = Number(data.get("first_ls"));
      const last = data.get("last_ls") ? Number(data.get("last_ls")) : first;
      const request = {
        run: fixed.run !== undefined ? fixed.run : Number(data.get("run")),
        first_ls: first, last_ls: last,
        decision: data.get("decision"), comment: String(data.get("comment") || ""),
      };
      status.textContent = "recording…";
      status.className = "";
      try {
        const result = await postJSON("/api/certification", request);
        status.textContent = `recorded ${request.run}:${span(first, last)} = ${request.decision} by ${result.who} at ${result.at}`;
        form.querySelector("[name=comment]").value = "";
        await after(result);
      } catch (err) {
        status.textContent = `refused: ${err.detail || err.message}`;
        status.className = "error";
      }
    });
  }

  return { COLORS, FAULTS, HttpError, getJSON, postJSON, el, td, score, verdictSpan, span, ranges, watchChanges, readOnly, certificationForm };
})();
