// A map: heatmap of counts / pull / ratio / expected / reference per depth, flagged
// channels and failing groups outlined, hover values, a channel's history on click.
"use strict";
(() => {
  const { el, getJSON, COLORS, score, verdictSpan } = HL;
  const id = Number(document.body.dataset.id);
  const plot = document.getElementById("heatmap");
  const layerSelect = document.getElementById("layer");
  const depthSelect = document.getElementById("depth");
  const showFlagged = document.getElementById("show-flagged");
  const showGroups = document.getElementById("show-groups");
  const views = new Map(); // depth → the API's view of that depth
  let view = null;

  const SCALES = {
    counts: { colorscale: "Viridis" },
    expected: { colorscale: "Viridis" },
    reference: { colorscale: "Viridis" },
    pull: { colorscale: "RdBu", zmid: 0, zmin: -5, zmax: 5 },
    ratio: { colorscale: "RdBu", zmid: 1, zmin: 0, zmax: 2 },
  };

  async function fetchDepth(depth) {
    if (!views.has(depth)) views.set(depth, await getJSON(`/api/maps/${id}?depth=${depth}`));
    return views.get(depth);
  }

  function flaggedAt(depth) {
    return view.flagged
      .filter((f) => (f.length === 2 ? depth === 0 : f[2] === depth))
      .map((f) => [f[0], f[1]]);
  }

  // Closed unit squares around cells, as one line trace (null between squares).
  function squares(cells) {
    const x = []; const y = [];
    for (const [r, c] of cells) {
      x.push(c - 0.5, c + 0.5, c + 0.5, c - 0.5, c - 0.5, null);
      y.push(r - 0.5, r - 0.5, r + 0.5, r + 0.5, r - 0.5, null);
    }
    return { x, y };
  }

  function draw() {
    const depth = Number(depthSelect.value || 0);
    const layer = layerSelect.value;
    const data = views.get(depth);
    const grid = data.layers[layer] ? data.layers[layer][0] : data.layers.counts[0];
    const live = data.live ? data.live[0] : null;
    const z = layer === "pull" || layer === "ratio"
      ? grid.map((row, r) => row.map((v, c) => (live && !live[r][c] ? null : v))) : grid;
    const counts = data.layers.counts[0];
    const expected = data.layers.expected ? data.layers.expected[0] : null;
    const pull = data.layers.pull ? data.layers.pull[0] : null;
    const customdata = counts.map((row, r) => row.map((v, c) => [
      v, expected ? expected[r][c] : "–", pull ? pull[r][c] : "–"]));
    const traces = [{
      type: "heatmap", z, customdata, name: layer, ...SCALES[layer],
      colorbar: { title: { text: layer } },
      hovertemplate: "row %{y}, column %{x}<br>counts %{customdata[0]}<br>expected %{customdata[1]}<br>pull %{customdata[2]}<extra></extra>",
    }];
    const cells = flaggedAt(depth);
    plot.dataset.flagged = JSON.stringify(cells);
    plot.dataset.depth = depth;
    plot.dataset.layer = layer;
    if (showFlagged.checked && cells.length) {
      traces.push({ type: "scatter", mode: "lines", name: "flagged", ...squares(cells),
        line: { color: "#ff00ff", width: 2 }, hoverinfo: "skip" });
    }
    const groups = data.outlines.filter((o) => o.depth === depth);
    plot.dataset.groups = JSON.stringify(groups.map((o) => o.group));
    if (showGroups.checked) {
      for (const outline of groups) {
        const x = []; const y = [];
        for (const [x0, y0, x1, y1] of outline.segments) x.push(x0, x1, null), y.push(y0, y1, null);
        traces.push({ type: "scatter", mode: "lines", name: `group ${outline.group}`, x, y,
          line: { color: "#00e5ff", width: 2.5 }, hoverinfo: "name" });
      }
    }
    const layout = {
      margin: { l: 60, r: 20, t: 20, b: 50 }, showlegend: true, legend: { orientation: "h", y: -0.12 },
      xaxis: { title: { text: "column" }, constrain: "domain" },
      yaxis: { title: { text: "row" }, scaleanchor: "x", constrain: "domain" },
    };
    Plotly.react(plot, traces, layout, { displaylogo: false, responsive: true });
    plot.dataset.drawn = `${depth}:${layer}`;
  }

  async function channel(row, col) {
    const depth = Number(depthSelect.value || 0);
    const panel = document.getElementById("channel-panel");
    panel.hidden = false;
    const title = document.getElementById("channel-title");
    title.textContent = `Channel row ${row}, column ${col}${view.shape[2] > 1 ? `, depth ${depth}` : ""} in run ${view.run}: loading…`;
    let data;
    try {
      data = await getJSON(`/api/channels/${view.run}/${row}/${col}?depth=${depth}`);
    } catch (err) {
      title.textContent = `Channel history unavailable: ${err.detail || err.message}`;
      return;
    }
    title.textContent = `Channel row ${row}, column ${col}${view.shape[2] > 1 ? `, depth ${depth}` : ""}: run ${data.run}, lumisections ${data.first}–${data.last}`;
    const points = data.points;
    const x = points.map((p) => p.lumisection);
    const traces = [
      { type: "scatter", mode: "lines+markers", name: "counts", x, y: points.map((p) => p.counts),
        customdata: points.map((p) => p.id),
        marker: { color: points.map((p) => (p.flagged ? "#ff00ff" : COLORS[p.verdict] || "#333")), size: points.map((p) => (p.flagged ? 9 : 5)) } },
      { type: "scatter", mode: "lines", name: "expected", x, y: points.map((p) => p.expected), line: { dash: "dot", color: "#555" } },
      { type: "scatter", mode: "markers", name: "pull", x, y: points.map((p) => p.pull), yaxis: "y2", marker: { symbol: "x", size: 5, color: "#1f77b4" } },
    ];
    const layout = {
      margin: { l: 60, r: 60, t: 10, b: 40 }, legend: { orientation: "h" },
      xaxis: { title: { text: "lumisection" } }, yaxis: { title: { text: "counts" } },
      yaxis2: { title: { text: "pull" }, overlaying: "y", side: "right", zeroline: true },
      shapes: [{ type: "line", xref: "x", yref: "paper", x0: view.lumisection, x1: view.lumisection, y0: 0, y1: 1, line: { dash: "dot", color: "#1f4e79" } }],
    };
    const target = document.getElementById("channel");
    await Plotly.react(target, traces, layout, { displaylogo: false, responsive: true });
    target.dataset.points = points.length;
    target.removeAllListeners && target.removeAllListeners("plotly_click");
    target.on("plotly_click", (event) => {
      const pointId = event.points[0].customdata;
      if (pointId) window.location.href = `/maps/${pointId}`;
    });
  }

  function describe() {
    document.title = `Run ${view.run} ls ${view.lumisection} · heplearn DQM`;
    document.getElementById("map-title").textContent = `Run ${view.run}, lumisection ${view.lumisection} (map ${view.map})`;
    const summary = document.getElementById("map-summary");
    const flaggedText = `${view.flagged.length} flagged channel${view.flagged.length === 1 ? "" : "s"}`;
    summary.replaceChildren(verdictSpan(view.verdict), ` · score ${score(view.score)} · ${flaggedText}`,
      view.groups.length ? ` · groups: ${view.groups.join(", ")}` : "",
      ` · ${view.model} · ${view.file}`,
      view.superseded ? el("span", { class: "error" }, " · a newer verdict exists for this lumisection") : "");
    const notes = [view.note, ...view.warnings];
    document.getElementById("map-note").textContent = notes.join(" · ");
    document.getElementById("back-to-run").href = `/runs/${view.run}#ls=${view.lumisection}`;
    const [, , depths] = view.shape;
    depthSelect.replaceChildren(...Array.from({ length: depths }, (_, k) => el("option", { value: k }, k)));
    document.getElementById("depth-label").hidden = depths < 2;
    for (const option of layerSelect.options) option.disabled = option.value !== "counts" && !view.layers[option.value];
  }

  async function start() {
    try {
      view = await fetchDepth(0);
    } catch (err) {
      const box = document.getElementById("map-error");
      box.hidden = false;
      box.textContent = err.detail || err.message;
      document.body.dataset.error = String(err.status || "");
      return;
    }
    describe();
    // The first depth holding a flagged channel is shown first.
    const first = view.flagged.find((f) => f.length === 3);
    if (first && first[2] > 0) { depthSelect.value = first[2]; await fetchDepth(first[2]); }
    draw();
    plot.on("plotly_click", (event) => {
      const point = event.points.find((p) => p.data.type === "heatmap") || event.points[0];
      if (point) channel(Math.round(point.y), Math.round(point.x));
    });
    document.body.dataset.loaded = "true";
  }

  depthSelect.addEventListener("change", async () => { await fetchDepth(Number(depthSelect.value)); draw(); });
  for (const input of [layerSelect, showFlagged, showGroups]) input.addEventListener("change", draw);
  start();
})();
