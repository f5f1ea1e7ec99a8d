/* Small page behaviours, kept out of the templates so the Content-Security-Policy can
 * refuse every inline script and event handler (settings.CONTENT_SECURITY_POLICY).
 *
 *   <button data-copy-from="feed-url">        copies the value of #feed-url
 *   <button data-confirm="Sure?">             asks before submitting its form
 *   <select data-autosubmit>                  submits its form when changed
 *   <button data-print>                       opens the browser's print dialog
 *
 * Listeners sit on the document, so content swapped in by htmx needs no set-up; the
 * guard stops a second copy of the script from adding them twice.
 */
(function () {
  "use strict";
  if (window.followupActions) return;
  window.followupActions = true;

  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy-from]");
    if (copy) {
      var source = document.getElementById(copy.getAttribute("data-copy-from"));
      if (source && navigator.clipboard) navigator.clipboard.writeText(source.value);
      return;
    }
    if (event.target.closest("[data-print]")) {
      window.print();
      return;
    }
    var ask = event.target.closest("[data-confirm]");
    if (ask && !window.confirm(ask.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("change", function (event) {
    var select = event.target.closest("[data-autosubmit]");
    if (select && select.form) select.form.submit();
  });
})();
