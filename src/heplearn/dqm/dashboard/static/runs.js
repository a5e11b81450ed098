// The runs table: newest run first, lumisections by verdict, a filter box, live.
"use strict";
(() => {
  const { el, td, getJSON, watchChanges } = HL;
  const tbody = document.querySelector("#runs tbody");
  const filter = document.getElementById("filter");
  let runs = [];

  function matches(run, text) {
    if (!text) return true;
    return text.split(/\s+/).every((word) => {
      if (word === "flagged") return run.flagged > 0;
      if (word === "unreadable") return run.unreadable > 0;
      if (word === "no-statistics") return run.no_statistics > 0;
      if (word === "uncertified") return run.overrides === 0;
      return String(run.run).startsWith(word);
    });
  }

  function render() {
    const text = filter.value.trim().toLowerCase();
    const rows = runs.filter((run) => matches(run, text)).map((run) =>
      el("tr", { dataset: { run: run.run } },
        el("td", {}, el("a", { href: `/runs/${run.run}`, class: "run-link" }, run.run)),
        td(run.lumisections, "num"), td(run.good, "num v-good"),
        td(run.flagged, run.flagged ? "num v-hot" : "num"), td(run.unreadable, "num"),
        td(run.no_statistics, "num"), td(run.certified_good, "num"), td(run.overrides, "num"),
        td(run.last_checked_at || "–")));
    tbody.replaceChildren(...rows);
    document.getElementById("empty").hidden = runs.length > 0;
    document.getElementById("runs").dataset.rows = rows.length;
  }

  async function load() {
    const data = await getJSON("/api/runs");
    runs = data.runs;
    render();
    return data.changes;
  }

  filter.addEventListener("input", render);
  load().then((changes) => watchChanges(load, changes));
})();
