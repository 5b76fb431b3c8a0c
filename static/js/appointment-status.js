// Keeps a patient's visit page current without reloading: the doctor's decision, the queue
// position and the predicted wait. When the status changes, the page's main part is fetched
// again and swapped in place, so the actions that fit the new status appear.
(function () {
  const final = ["cancelled", "noshow", "fulfilled"];
  let card = document.getElementById("visit");
  if (!card) return;
  const url = card.dataset.statusUrl;

  const set = (id, value) => {
    const el = card.querySelector(`[data-testid=${id}]`);
    if (el) el.textContent = value === null || value === undefined ? "" : value;
  };

  async function swapMain() {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.querySelector("main");
    if (fresh) document.querySelector("main").replaceWith(fresh);
    card = document.getElementById("visit");
  }

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        if (data.status !== card.dataset.status) {
          await swapMain();
        } else if (data.position !== null) {
          card.querySelector("[data-testid=queue]").hidden = false;
          set("queue-number", data.queue_number);
          set("ahead", data.position - 1);
          set("wait", data.wait_minutes);
        }
      }
    } catch (e) {
      // offline for a moment: try again on the next tick
    }
    if (card && !final.includes(card.dataset.status)) setTimeout(poll, 3000);
  }
  setTimeout(poll, 3000);
})();
