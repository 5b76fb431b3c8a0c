// Small behaviours that templates declare with data- attributes. The Content-Security-Policy
// allows no inline script or event handler (onchange=, onclick=), so they live here. Listeners
// sit on the document, so markup swapped in later (appointment-status.js) behaves the same.
(function () {
  document.addEventListener("change", (event) => {
    const el = event.target;
    // <select data-autosubmit>: submit its form on change (the language selector).
    if (el.matches("select[data-autosubmit]") && el.form) {
      el.form.submit();
      return;
    }
    // <select data-copy-to="ID">: copy the chosen option into the field #ID (a preset).
    if (el.matches("select[data-copy-to]")) {
      const target = document.getElementById(el.dataset.copyTo);
      if (target) target.value = el.value;
    }
  });
  document.addEventListener("click", (event) => {
    // <button data-print>: print the page.
    if (event.target.closest("button[data-print]")) window.print();
  });
})();
