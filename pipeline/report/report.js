// kiln report's page: draws the runs and searches of KILN_REPORT (pipeline/report/report_data.hpp)
// with Chart.js. Every chart's canvas carries data-chart (what it shows) and data-datasets (how
// many lines it drew), and body[data-ready] is set at the end (with data-render-ms, the time from
// the start of loading), for tests in a headless browser.
"use strict";
(function () {
  const errors = [];
  const showErrors = () => {
    document.getElementById("js-errors").textContent = errors.join("\n");
  };
  window.addEventListener("error", (e) => { errors.push(String(e.message)); showErrors(); });

  const data = KILN_REPORT;
  const root = document.getElementById("report");
  // Okabe & Ito's colour-blind-safe colours, then Tableau's.
  const palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
                   "#F0E442", "#4E79A7", "#F28E2B", "#59A14F", "#B07AA1", "#76B7B2", "#FF9DA7"];
  const colour = (i) => palette[i % palette.length];

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attributes || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : String(c));
    return node;
  }
  function fmt(v) {
    if (v === null || v === undefined || v === "") return "";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toFixed(4);
  }
  // A log axis where positive values span two decades or more.
  function spansDecades(values) {
    const positive = values.filter((v) => typeof v === "number" && v > 0);
    if (positive.length < 2) return false;
    return Math.max(...positive) / Math.min(...positive) >= 100;
  }

  function chart(container, name, title, datasets, options) {
    const box = el("div", { class: "chart" });
    const canvas = el("canvas", { "data-chart": name });
    box.append(canvas);
    container.append(box);
    const ys = datasets.flatMap((d) => d.data.map((p) => p.y));
    const xs = datasets.flatMap((d) => d.data.map((p) => p.x));
    const made = new Chart(canvas, {
      type: options.scatter ? "scatter" : "line",
      data: { datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        plugins: { title: { display: true, text: title } },
        scales: {
          x: { type: options.logX || (options.logX === undefined && spansDecades(xs)) && !options.linearX ? "logarithmic" : "linear",
               ticks: options.linearX ? { precision: 0 } : {},
               title: { display: true, text: options.xLabel } },
          y: { type: spansDecades(ys) ? "logarithmic" : "linear" },
        },
      },
    });
    canvas.setAttribute("data-datasets", String(made.data.datasets.length));
    return made;
  }

  function sortable(table) {
    const header = table.tHead.rows[0];
    Array.from(header.cells).forEach((th, column) => {
      th.addEventListener("click", () => {
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        const ascending = th.getAttribute("data-order") !== "ascending";
        Array.from(header.cells).forEach((h) => h.removeAttribute("data-order"));
        th.setAttribute("data-order", ascending ? "ascending" : "descending");
        const key = (row) => {
          const text = row.cells[column].textContent;
          const n = Number(text);
          return text !== "" && !Number.isNaN(n) ? n : text;
        };
        rows.sort((a, b) => {
          const x = key(a), y = key(b);
          const order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : typeof x === "number" ? -1 : 1;
          return ascending ? order : -order;
        });
        rows.forEach((r) => body.append(r));
      });
    });
    return table;
  }

  function table(columns, rows, rowClass) {
    const head = el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", { class: c.text ? "text" : "" }, c.title))));
    const body = el("tbody");
    rows.forEach((row) => {
      const tr = el("tr", { class: rowClass ? rowClass(row) : "" });
      columns.forEach((c) => tr.append(el("td", { class: c.cls || (c.text ? "text" : "") }, fmt(c.value(row)))));
      body.append(tr);
    });
    return sortable(el("table", { "data-table": columns.name || "" }, head, body));
  }

  const runs = data.runs;
  const searches = data.searches;
  root.append(el("h1", {}, "kiln report"));
  root.append(el("p", { class: "note" }, runs.length + " runs, " + searches.length + " searches" +
    (data.live ? "; runs still training: this page reloads itself" : "")));

  // Training curves: one chart per figure, one line per run.
  if (runs.length > 0) {
    root.append(el("h2", {}, "Training curves"));
    const charts = el("div", { class: "charts" });
    root.append(charts);
    const figures = [["loss", "loss"], ["val_loss", "validation loss"], ["accuracy", "accuracy"],
                     ["val_accuracy", "validation accuracy"], ["mae", "MAE (regression)"],
                     ["val_mae", "validation MAE (regression)"], ["learning_rate", "learning rate"]];
    for (const [column, title] of figures) {
      const datasets = [];
      runs.forEach((run, i) => {
        const values = run.log[column] || [];
        if (!values.some((v) => v !== null)) return;
        const epochs = run.log.epoch;
        datasets.push({ label: run.name, borderColor: colour(i), backgroundColor: colour(i),
                        pointRadius: 2, borderWidth: 1.5,
                        data: values.map((v, k) => ({ x: epochs[k], y: v })).filter((p) => p.y !== null) });
      });
      if (datasets.length > 0) chart(charts, column, title, datasets, { xLabel: "epoch", linearX: true });
    }
  }

  // The runs table: final and best figures, time, speed and the config keys that differ.
  if (runs.length > 0) {
    root.append(el("h2", {}, "Runs"));
    const keys = Array.from(new Set(runs.flatMap((r) => Object.keys(r.config)))).sort();
    const same = (k) => runs.every((r) => JSON.stringify(r.config[k]) === JSON.stringify(runs[0].config[k]));
    const differing = keys.filter((k) => !same(k));
    const holder = el("div");
    let all = false;
    const draw = () => {
      const shown = all ? keys : differing;
      const columns = [
        { title: "run", text: true, value: (r) => r.name },
        { title: "status", text: true, value: (r) => r.status },
        { title: "epochs", value: (r) => r.summary.epochs },
        { title: "loss", value: (r) => r.summary.final_loss },
        { title: "accuracy", value: (r) => r.summary.final_accuracy },
        { title: "val_loss", value: (r) => r.summary.final_val_loss },
        { title: "val_accuracy", value: (r) => r.summary.final_val_accuracy },
        { title: "best val_accuracy", value: (r) => r.summary.best_val_accuracy },
        // Regression runs (log.csv's mae columns), when there are any.
        ...(runs.some((r) => r.summary.final_mae !== null && r.summary.final_mae !== undefined)
          ? [{ title: "val_mae", value: (r) => r.summary.final_val_mae },
             { title: "best val_mae", value: (r) => r.summary.best_val_mae }]
          : []),
        { title: "seconds", value: (r) => r.summary.seconds },
        { title: "images/s", value: (r) => r.summary.images_per_second === null ? null : Math.round(r.summary.images_per_second) },
        ...shown.map((k) => ({ title: k, text: true, value: (r) => r.config[k] })),
      ];
      columns.name = "runs";
      holder.replaceChildren(table(columns, runs));
    };
    const toggle = el("button", { id: "all-keys" }, "show every config key");
    toggle.addEventListener("click", () => {
      all = !all;
      toggle.textContent = all ? "show the differing keys only" : "show every config key";
      draw();
    });
    root.append(el("p", { class: "note" }, differing.length + " config keys differ between the runs: " +
      (differing.join(", ") || "none")), toggle, holder);
    draw();
  }

  // Searches: the score against each parameter, and the trials.
  searches.forEach((search) => {
    root.append(el("h2", {}, "Search " + search.name + " (" + search.strategy + ", " + search.metric + ")"));
    const charts = el("div", { class: "charts" });
    root.append(charts);
    for (const param of search.params) {
      const groups = new Map();  // epochs → points
      for (const t of search.trials) {
        const x = t.point[param.key];
        if (typeof x !== "number" || t.score === null) continue;
        if (!groups.has(t.epochs)) groups.set(t.epochs, []);
        groups.get(t.epochs).push({ x, y: t.score });
      }
      const datasets = Array.from(groups.entries()).sort((a, b) => a[0] - b[0]).map(([epochs, points], i) => ({
        label: epochs + (epochs === 1 ? " epoch" : " epochs"), data: points,
        backgroundColor: colour(i), borderColor: colour(i), pointRadius: 4 }));
      if (datasets.length > 0) {
        chart(charts, "score:" + param.key, search.metric + " against " + param.key, datasets,
              { xLabel: param.key, logX: param.log, scatter: true });
      }
    }
    const columns = [
      { title: "trial", value: (t) => t.number },
      { title: "status", text: true, value: (t) => t.status },
      { title: search.metric, value: (t) => t.score },
      { title: "epochs", value: (t) => t.epochs },
      { title: "seconds", value: (t) => t.seconds },
      ...search.params.map((p) => ({ title: p.key, value: (t) => t.point[p.key] })),
      { title: "reason", text: true, cls: "reason", value: (t) => t.reason },
    ];
    columns.name = "trials";
    root.append(table(columns, search.trials, (t) => t.status));
  });

  // Diagnostics: each figure per layer over training.
  runs.filter((r) => r.diagnostics).forEach((run) => {
    root.append(el("h2", {}, "Diagnostics of " + run.name));
    const charts = el("div", { class: "charts" });
    root.append(charts);
    const d = run.diagnostics;
    const figures = [["activation_std", "activation standard deviation"], ["dead_fraction", "dead ReLU fraction"],
                     ["update_ratio", "update / weight ratio"]];
    for (const [figure, title] of figures) {
      const datasets = [];
      d.order.map((layer) => [layer, d.layers[layer]]).forEach(([layer, values], i) => {
        const points = values[figure].map((v, k) => ({ x: d.steps[k], y: v })).filter((p) => p.y !== null);
        if (points.length > 0) {
          datasets.push({ label: layer, data: points, borderColor: colour(i), backgroundColor: colour(i),
                          pointRadius: 1, borderWidth: 1.5 });
        }
      });
      if (datasets.length > 0) chart(charts, "diagnostics:" + figure, title, datasets, { xLabel: "step", linearX: true });
    }
  });

  // Evaluation reports: the summary figures, the confusion matrix shaded by row (classification)
  // and the per-class table (classification and multi-label), whichever the folder holds.
  runs.filter((r) => r.evaluation).forEach((run) => {
    const e = run.evaluation;
    root.append(el("h2", {}, "Evaluation of " + run.name + " (" + e.folder + ")"));
    const cell = (text, i) => (i === 0 ? text : text === "" ? "" : Number(text));
    if (e.summary) {
      const [, ...figures] = e.summary;
      const columns = [
        { title: "metric", text: true, value: (r) => r[0] },
        { title: "value", value: (r) => cell(r[1], 1) },
      ];
      columns.name = "eval-summary";
      root.append(el("h3", {}, "summary"), table(columns, figures));
    }
    if (e.confusion) {
      const [header, ...rows] = e.confusion;
      const matrix = el("table", { "data-table": "confusion" });
      matrix.append(el("tr", {}, ...header.map((h) => el("th", { class: "text" }, h))));
      rows.forEach((row) => {
        const counts = row.slice(1).map(Number);
        const total = counts.reduce((a, b) => a + b, 0) || 1;
        const tr = el("tr", {}, el("th", { class: "text" }, row[0]));
        counts.forEach((c) => {
          const td = el("td", {}, String(c));
          td.style.background = "rgba(0, 114, 178, " + (c / total).toFixed(3) + ")";
          tr.append(td);
        });
        matrix.append(tr);
      });
      root.append(el("h3", {}, "confusion matrix (rows: true class)"), matrix);
    }
    if (e.per_class) {
      const [classHeader, ...classRows] = e.per_class;
      const columns = classHeader.map((h, i) => ({ title: h, text: i === 0, value: (r) => cell(r[i], i) }));
      columns.name = "per_class";
      root.append(el("h3", {}, "per class"), table(columns, classRows));
    }
  });

  // Augmentation previews kept in the run directories.
  runs.filter((r) => r.previews).forEach((run) => {
    root.append(el("h2", {}, "Augmentation preview of " + run.name));
    run.previews.forEach((p) => root.append(el("p", {}, p.name), el("img", { class: "preview", src: p.src, alt: p.name })));
  });

  // Milliseconds from the start of loading to the page drawn, for the README's figure.
  document.body.setAttribute("data-render-ms", String(Math.round(performance.now())));
  document.body.setAttribute("data-ready", "1");
})();
