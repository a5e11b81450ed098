// Certification: record decisions, the good-lumisection JSON, the audit list; live.
"use strict";
(() => {
  const { el, td, getJSON, watchChanges, span } = HL;

  async function load() {
    const [golden, audit] = await Promise.all([
      fetch("/api/golden.json", { credentials: "same-origin" }).then((r) => r.text()),
      getJSON("/api/overrides"),
    ]);
    document.getElementById("golden").textContent = golden;
    document.querySelector("#audit tbody").replaceChildren(...audit.overrides.slice().reverse().map((o) =>
      el("tr", { dataset: { id: o.id } }, td(o.id, "num"),
        el("td", {}, el("a", { href: `/runs/${o.run}#ls=${o.first_ls}` }, o.run)),
        td(span(o.first_ls, o.last_ls)), td(o.decision), td(o.comment, "comment"), td(o.who), td(o.at))));
    document.body.dataset.loaded = "true";
    return audit.changes;
  }

  HL.certificationForm(document.getElementById("certify"), {}, load);
  load().then((changes) => watchChanges(load, changes));
})();
