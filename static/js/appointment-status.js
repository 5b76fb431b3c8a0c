// Keeps a patient's visit page current without reloading: the doctor's decision, the queue
// position and the predicted wait. A change of status reloads once, to show the new actions.
(function () {
  const card = document.getElementById("visit");
  if (!card) return;
  const url = card.dataset.statusUrl;
  let status = card.dataset.status;
  const final = ["cancelled", "noshow"];
  const set = (id, value) => {
    const el = card.querySelector(`[data-testid=${id}]`);
    if (el) el.textContent = value === null || value === undefined ? "" : value;
  };
  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        if (data.status !== status) {
          window.location.reload();
          return;
        }
        if (data.position !== null) {
          card.querySelector("[data-testid=queue]").hidden = false;
          set("queue-number", data.queue_number);
          set("ahead", data.position - 1);
          set("wait", data.wait_minutes);
        }
      }
    } catch (e) {
      // offline for a moment: try again on the next tick
    }
    if (!final.includes(status)) setTimeout(poll, 3000);
  }
  setTimeout(poll, 3000);
})();
