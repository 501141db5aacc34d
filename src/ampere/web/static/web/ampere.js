/* Ampere's web shell: small behaviour on top of server-rendered pages (they work without it). */
(function () {
  "use strict";

  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) summary.focus();
  }

  // A link in the error summary moves focus to its field (and scrolls its label into view).
  document.addEventListener("click", function (event) {
    var link = event.target.closest(".error-summary a[href^='#']");
    if (link) {
      var input = document.getElementById(link.getAttribute("href").slice(1));
      if (input) {
        event.preventDefault();
        var label = document.querySelector("label[for='" + input.id + "']");
        (label || input).scrollIntoView();
        input.focus({ preventScroll: true });
      }
      return;
    }
    var opener = event.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.showModal();
      }
    }
  });

  // After htmx swaps a region (a table's page), focus moves to the region's marked element
  // (its caption), so keyboard and screen-reader users stay where they were.
  document.addEventListener("htmx:afterSwap", function (event) {
    var region = event.detail.target;
    if (region && !document.body.contains(region)) {
      region = document.getElementById(region.id);
    }
    var target = event.detail.elt && event.detail.elt.id ? event.detail.elt : null;
    var swapped = document.getElementById((region && region.id) || (target && target.id));
    var focus = swapped && swapped.querySelector("[data-swap-focus]");
    if (focus) focus.focus();
  });

  document.addEventListener("DOMContentLoaded", focusErrorSummary);
})();
