// The waiting room screen refreshes its queues every few seconds.
(function () {
  const board = document.getElementById("board");
  if (!board) return;
  setInterval(async () => {
    try {
      const response = await fetch(board.dataset.url, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      board.replaceChildren(...data.sessions.map((row) => {
        const section = document.createElement("section");
        section.className = "card";
        section.dataset.testid = "board-session";
        const h2 = document.createElement("h2");
        h2.textContent = `${row.doctor} · ${row.department} · ${row.period}`;
        const now = document.createElement("p");
        now.textContent = row.now.map((n) => `${n.number} ${n.name}`).join(", ") || "—";
        const next = document.createElement("p");
        next.textContent = row.next.map((n) => `${n.number} ${n.name}`).join(", ") || "—";
        section.append(h2, now, next);
        return section;
      }));
    } catch (e) {
      // keep showing the last state
    }
  }, 5000);
})();
