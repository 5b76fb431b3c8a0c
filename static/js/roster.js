// Roster page: click a cell to change its shift, or drag a shift to another day of the same
// person or to another person on the same day (a swap when that cell has one); the server checks
// the roster at once and sends back the cells, rows and cover that changed. Also a live chart of
// the optimiser's improving solutions while it runs.
(function () {
  const root = document.getElementById("roster");
  if (!root) return;
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const editor = document.getElementById("cell-editor");
  const table = document.querySelector("table.roster[data-move-url]");
  let editing = null;

  function say(text, problem) {
    const line = document.getElementById("roster-check");
    if (!line) return;
    line.textContent = text || "";
    line.classList.toggle("problem", Boolean(problem));
  }

  function showCheck(data) {
    root.querySelector("[data-testid=objective]").textContent = data.objective;
    for (const key of ["request_cost", "cover_cost", "fairness_cost"]) {
      const el = root.querySelector(`[data-testid=${key.replace("_", "-")}]`);
      if (el && key in data) el.textContent = data[key];
    }
    let list = document.getElementById("violations");
    if (!list) {
      const section = document.createElement("section");
      section.className = "card warn";
      section.dataset.testid = "violations";
      const heading = document.createElement("h2");
      const count = document.createElement("span");
      count.id = "violation-count";
      heading.append(`${root.dataset.brokenLabel} (`, count, ")");
      list = document.createElement("ul");
      list.id = "violations";
      section.append(heading, list);
      root.after(section);
    }
    const count = document.getElementById("violation-count");
    if (count) count.textContent = data.violations.length;
    list.replaceChildren(...data.violations.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }));
    list.closest("section").hidden = data.violations.length === 0;
  }

  function paintCell(td, cell) {
    td.dataset.shift = cell.shift;
    td.textContent = cell.shift;
    td.style.background = cell.colour || "";
    td.classList.toggle("changed", cell.changed);
    td.classList.toggle("penalised", cell.penalty > 0);
    td.classList.toggle("violation", cell.violations.length > 0);
    const lines = cell.penalty ? [`${root.dataset.penaltyLabel} ${cell.penalty}`] : [];
    lines.push(...cell.violations);
    if (lines.length) td.title = lines.join("\n");
    else td.removeAttribute("title");
    if (table) td.draggable = Boolean(cell.shift);
  }

  // The cells, rows (totals, broken rules) and cover the server says an edit changed.
  function applyPatch(data) {
    for (const cell of data.cells || []) {
      const td = document.querySelector(`td.cell[data-user="${cell.user}"][data-date="${cell.date}"]`);
      if (td) paintCell(td, cell);
    }
    for (const row of data.rows || []) {
      const tr = document.querySelector(`table.roster tr[data-user="${row.user}"]`);
      if (!tr) continue;
      tr.classList.toggle("broken", row.violations.length > 0);
      if (row.violations.length) tr.title = row.violations.join("; ");
      else tr.removeAttribute("title");
      for (const key of ["hours", "nights", "weekends"]) {
        const td = tr.querySelector(`td[data-total=${key}]`);
        if (td) td.textContent = row[key];
      }
    }
    for (const cover of data.cover || []) {
      const td = document.querySelector(`td[data-cover="${cover.shift}"][data-date="${cover.date}"]`);
      if (!td) continue;
      td.textContent = `${cover.staffed}/${cover.required}`;
      td.classList.toggle("short", cover.short);
    }
  }

  async function post(url, fields) {
    const response = await fetch(url, {
      method: "POST", body: new URLSearchParams(fields), credentials: "same-origin",
      headers: { "X-CSRFToken": csrf },
    });
    return { ok: response.ok, data: await response.json() };
  }

  if (editor) {
    document.querySelectorAll("td.cell").forEach((cell) => {
      cell.addEventListener("click", () => {
        editing = cell;
        editor.value = cell.dataset.shift;
        editor.hidden = false;
        cell.replaceChildren(editor);
        editor.focus();
      });
    });
    editor.addEventListener("click", (event) => event.stopPropagation());
    editor.addEventListener("change", async () => {
      const cell = editing;
      const { ok, data } = await post(root.dataset.cellUrl, {
        user: cell.dataset.user, date: cell.dataset.date, shift: editor.value,
      });
      editor.hidden = true;
      document.body.append(editor);
      if (!ok) {
        cell.textContent = cell.dataset.shift;
        say(data.error, true);
        return;
      }
      cell.dataset.shift = editor.value;
      cell.textContent = editor.value;
      const option = editor.selectedOptions[0];
      cell.style.background = editor.value ? option.dataset.colour : "";
      applyPatch(data);
      showCheck(data);
      say("", false);
    });
  }

  // Drag edits: declared by data-move-url on the grid (absent on a published or solving roster).
  if (table) {
    let source = null;
    const cells = () => table.querySelectorAll("td.cell");
    cells().forEach((td) => { td.draggable = Boolean(td.dataset.shift); });

    const dropTarget = (event) => {
      const td = event.target instanceof Element ? event.target.closest("td.cell") : null;
      if (!td || !source || td === source) return null;
      const sameRow = td.dataset.user === source.dataset.user;
      const sameDay = td.dataset.date === source.dataset.date;
      return sameRow || sameDay ? td : null;
    };
    const clear = () => {
      cells().forEach((td) => td.classList.remove("drop-candidate", "drop-target", "dragging"));
    };

    table.addEventListener("dragstart", (event) => {
      const td = event.target instanceof Element ? event.target.closest("td.cell") : null;
      if (!td || !td.dataset.shift || table.classList.contains("busy")) {
        event.preventDefault();
        return;
      }
      source = td;
      td.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", `${td.dataset.user} ${td.dataset.date}`);
      cells().forEach((other) => {
        if (other !== td && (other.dataset.user === td.dataset.user || other.dataset.date === td.dataset.date)) {
          other.classList.add("drop-candidate");
        }
      });
    });
    table.addEventListener("dragover", (event) => {
      const td = dropTarget(event);
      if (!td) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      table.querySelectorAll("td.drop-target").forEach((other) => {
        if (other !== td) other.classList.remove("drop-target");
      });
      td.classList.add("drop-target");
    });
    table.addEventListener("dragleave", (event) => {
      const td = event.target instanceof Element ? event.target.closest("td.cell") : null;
      if (td) td.classList.remove("drop-target");
    });
    table.addEventListener("dragend", () => {
      clear();
      source = null;
    });
    table.addEventListener("drop", async (event) => {
      const td = dropTarget(event);
      if (!td) return;
      event.preventDefault();
      const from = source;
      clear();
      source = null;
      table.classList.add("busy");
      try {
        const { ok, data } = await post(table.dataset.moveUrl, {
          user: from.dataset.user, date: from.dataset.date,
          to_user: td.dataset.user, to_date: td.dataset.date,
        });
        if (!ok) {
          say(data.error, true);
          return;
        }
        applyPatch(data);
        showCheck(data);
        say(data.message, !data.feasible);
      } catch (error) {
        say(String(error), true);
      } finally {
        table.classList.remove("busy");
      }
    });
  }

  const chart = document.getElementById("progress-chart");
  function draw(progress) {
    if (!progress.length) return;
    const maxT = Math.max(...progress.map((p) => p.seconds), 1);
    const values = progress.flatMap((p) => [p.objective, p.bound ?? p.objective]);
    const hi = Math.max(...values), lo = Math.min(...values), span = Math.max(hi - lo, 1);
    const point = (t, v) => `${(t / maxT) * 300},${78 - ((v - lo) / span) * 74}`;
    const line = (key, cls) => {
      const el = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      el.setAttribute("points", progress.map((p) => point(p.seconds, p[key] ?? p.objective)).join(" "));
      if (cls) el.setAttribute("class", cls);
      return el;
    };
    chart.replaceChildren(line("objective"), line("bound", "bound"));
    const last = progress[progress.length - 1];
    document.getElementById("progress-text").textContent = `${last.seconds} s: ${last.objective} (≥ ${last.bound})`;
  }
  async function poll() {
    const response = await fetch(root.dataset.progressUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    draw(data.progress);
    if (data.status !== root.dataset.status) {
      window.location.reload();
      return;
    }
    if (data.status === "solving") setTimeout(poll, 1500);
  }
  poll();
})();
