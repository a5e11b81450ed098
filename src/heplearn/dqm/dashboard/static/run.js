// A run: lumisection timeline coloured by verdict, keyboard steps between flagged ones,
// the selected lumisection's details and map link, certification, live.
"use strict";
(() => {
  const { el, td, getJSON, watchChanges, COLORS, FAULTS, score, verdictSpan, span, ranges } = HL;
  const run = Number(document.body.dataset.run);
  const plot = document.getElementById("timeline");
  const panel = document.getElementById("selected");
  let lumis = [];
  let selected = null; // index into lumis

  const fromHash = () => {
    const found = /ls=(\d+)/.exec(window.location.hash);
    return found ? Number(found[1]) : null;
  };

  function drawTimeline() {
    const x = lumis.map((l) => l.lumisection);
    const y = lumis.map((l) => (l.score === null ? 0.05 : Math.max(l.score, 0.05)));
    const trace = {
      type: "bar", x, y, name: "score",
      marker: { color: lumis.map((l) => COLORS[l.verdict] || "#000") },
      customdata: lumis.map((l) => [l.verdict, l.groups.join(", ") || "–", score(l.score), l.certified]),
      hovertemplate: "ls %{x}: %{customdata[0]}<br>score %{customdata[2]}<br>groups %{customdata[1]}<br>certified %{customdata[3]}<extra></extra>",
    };
    const shapes = selected === null ? [] : [{
      type: "line", xref: "x", yref: "paper", x0: lumis[selected].lumisection, x1: lumis[selected].lumisection,
      y0: 0, y1: 1, line: { color: "#1f4e79", width: 2, dash: "dot" },
    }];
    const layout = {
      margin: { l: 50, r: 10, t: 10, b: 40 }, bargap: 0.05, shapes,
      xaxis: { title: { text: "lumisection" } }, yaxis: { title: { text: "score" }, rangemode: "tozero" },
    };
    Plotly.react(plot, [trace], layout, { displaylogo: false, responsive: true });
  }

  function select(index, scroll) {
    if (index === null || index < 0 || index >= lumis.length) return;
    selected = index;
    const l = lumis[index];
    panel.dataset.ls = l.lumisection;
    panel.dataset.verdict = l.verdict;
    panel.dataset.id = l.id;
    document.getElementById("sel-ls").textContent = l.lumisection;
    document.getElementById("sel-verdict").replaceChildren(verdictSpan(l.verdict), l.reason ? ` (${l.reason})` : "");
    document.getElementById("sel-score").textContent = score(l.score);
    document.getElementById("sel-groups").textContent = l.groups.length ? l.groups.join(", ") : "–";
    document.getElementById("sel-flagged").textContent = l.flagged_count;
    const override = l.override ? ` (decided ${l.override.decision} by ${l.override.who} at ${l.override.at}: ${l.override.comment})` : "";
    document.getElementById("sel-certified").textContent = `${l.certified}${override}`;
    const link = document.getElementById("open-map");
    link.href = l.verdict === "unreadable" ? "#" : `/maps/${l.id}`;
    link.textContent = l.verdict === "unreadable" ? "unreadable: no map" : `open map ${l.map}`;
    document.getElementById("sel-file").textContent = l.file;
    const first = document.getElementById("cert-first");
    if (first && document.activeElement !== first) first.value = l.lumisection;
    history.replaceState(null, "", `#ls=${l.lumisection}`);
    for (const row of document.querySelectorAll("#flagged tbody tr")) {
      row.classList.toggle("selected", Number(row.dataset.ls) === l.lumisection);
    }
    drawTimeline();
    if (scroll) panel.scrollIntoView({ block: "nearest" });
  }

  function step(direction) {
    const start = selected === null ? (direction > 0 ? -1 : lumis.length) : selected;
    for (let i = start + direction; i >= 0 && i < lumis.length; i += direction) {
      if (FAULTS.has(lumis[i].verdict)) { select(i, true); return; }
    }
  }

  function renderTables(data) {
    const c = data.counts;
    document.getElementById("summary").textContent =
      `${c.lumisections} lumisections: ${c.good} good, ${c.flagged} flagged, ${c.unreadable} unreadable, ` +
      `${c.no_statistics} without statistics` + (c.unplaced ? `, ${c.unplaced} unplaced` : "") +
      ` · certified good: ${ranges(data.certified_good)}`;
    document.getElementById("certified-good").textContent = ranges(data.certified_good);
    const flagged = lumis.filter((l) => FAULTS.has(l.verdict)).map((l) =>
      el("tr", { dataset: { ls: l.lumisection } },
        el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); select(lumis.indexOf(l), true); } }, l.lumisection)),
        el("td", {}, verdictSpan(l.verdict)), td(score(l.score), "num"), td(l.groups.join(", ") || "–"),
        td(l.flagged_count, "num"), td(l.certified),
        el("td", {}, el("a", { href: `/maps/${l.id}` }, "map"))));
    document.querySelector("#flagged tbody").replaceChildren(...flagged);
    document.querySelector("#unplaced tbody").replaceChildren(...data.unplaced.map((u) =>
      el("tr", {}, td(u.map), el("td", {}, verdictSpan(u.verdict)), td(u.reason || "–", "comment"), td(u.file))));
    document.querySelector("#run-audit tbody").replaceChildren(...data.overrides.slice().reverse().map((o) =>
      el("tr", {}, td(span(o.first_ls, o.last_ls)), td(o.decision), td(o.comment, "comment"), td(o.who), td(o.at))));
  }

  async function load() {
    let data;
    try {
      data = await getJSON(`/api/runs/${run}`);
    } catch (err) {
      document.getElementById("summary").textContent = err.detail || err.message;
      return null;
    }
    const keep = selected === null ? fromHash() : lumis[selected].lumisection;
    lumis = data.lumisections;
    renderTables(data);
    let index = lumis.findIndex((l) => l.lumisection === keep);
    if (index < 0) index = lumis.findIndex((l) => FAULTS.has(l.verdict));
    if (index < 0 && lumis.length) index = 0;
    selected = null;
    if (index >= 0) select(index, false); else drawTimeline();
    document.body.dataset.loaded = "true";
    return data.changes;
  }

  document.addEventListener("keydown", (event) => {
    const tag = (event.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select"].includes(tag) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "n") step(1);
    else if (event.key === "p") step(-1);
    else if (event.key === "m" && selected !== null && lumis[selected].verdict !== "unreadable") {
      window.location.href = `/maps/${lumis[selected].id}`;
    }
  });
  HL.certificationForm(document.getElementById("certify"), { run }, load);
  load().then((changes) => {
    if (plot.on) {
      plot.on("plotly_click", (event) => {
        const ls = event.points[0].x;
        select(lumis.findIndex((l) => l.lumisection === ls), false);
      });
    }
    watchChanges(load, changes);
  });
})();
