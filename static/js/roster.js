// Roster page: click a cell to change its shift (checked at once by the server), and a live
// chart of the optimiser's improving solutions while it runs.
(function () {
  const root = document.getElementById("roster");
  if (!root) return;
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const editor = document.getElementById("cell-editor");
  let editing = null;

  function showCheck(data) {
    root.querySelector("[data-testid=objective]").textContent = data.objective;
    let list = document.getElementById("violations");
    if (!list) {
      const section = document.createElement("section");
      section.className = "card warn";
      section.dataset.testid = "violations";
      list = document.createElement("ul");
      list.id = "violations";
      section.append(list);
      root.after(section);
    }
    list.replaceChildren(...data.violations.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }));
    list.closest("section").hidden = data.violations.length === 0;
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
      const body = new URLSearchParams({ user: cell.dataset.user, date: cell.dataset.date, shift: editor.value });
      const response = await fetch(root.dataset.cellUrl, {
        method: "POST", body, credentials: "same-origin", headers: { "X-CSRFToken": csrf },
      });
      const data = await response.json();
      editor.hidden = true;
      document.body.append(editor);
      if (!response.ok) {
        cell.textContent = cell.dataset.shift;
        window.alert(data.error);
        return;
      }
      cell.dataset.shift = editor.value;
      cell.textContent = editor.value;
      const option = editor.selectedOptions[0];
      cell.style.background = editor.value ? option.dataset.colour : "";
      showCheck(data);
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
