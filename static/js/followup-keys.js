/* Keyboard for the rep's queue: j/k move, c/v/n/m log, s snooze, e email, ? help.
 *
 * Every key only clicks or focuses something that is already on the page (an element
 * with data-key="…"), so the page works the same without this script: plain forms
 * post and redirect. Listeners sit on the document, so pages swapped in by htmx need
 * no set-up; the guard stops a second copy of the script from adding them twice.
 */
(function () {
  "use strict";
  if (window.followupKeys) return;
  window.followupKeys = true;

  function isTyping(target) {
    return Boolean(
      target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))
    );
  }

  function queueItems() {
    var pane = document.querySelector(".tab-pane.active") || document;
    return Array.prototype.slice.call(pane.querySelectorAll("[data-queue-item]"));
  }

  function moveSelection(step) {
    var items = queueItems();
    if (!items.length) return;
    var index = items.findIndex(function (el) { return el.classList.contains("is-current"); });
    if (index < 0) index = step > 0 ? 0 : items.length - 1;
    else index = Math.min(Math.max(index + step, 0), items.length - 1);
    items.forEach(function (el) { el.classList.remove("is-current"); });
    items[index].classList.add("is-current");
    items[index].focus({ preventScroll: true });
    items[index].scrollIntoView({ block: "nearest" });
  }

  function showHelp() {
    var modal = document.getElementById("keys-help");
    if (modal && window.bootstrap) window.bootstrap.Modal.getOrCreateInstance(modal).show();
  }

  function focusField(selector, scope) {
    var field = (scope || document).querySelector(selector);
    if (!field) return;
    field.focus();
    field.scrollIntoView({ block: "center" });
  }

  function activate(target) {
    if (target.tagName === "SUMMARY") {
      target.parentElement.open = true;
      focusField(target.dataset.keyFocus || "input:not([type=hidden])", target.parentElement);
    } else if (target.dataset.keyFocus) {
      focusField(target.dataset.keyFocus);
    } else {
      target.click();
    }
  }

  function sendShortcut(event) {
    // Ctrl/Cmd+Enter in the composer sends the email.
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return false;
    var composer = event.target.closest && event.target.closest("#composer");
    var send = composer && composer.querySelector("#send-email");
    if (!send || send.disabled) return false;
    event.preventDefault();
    send.click();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (sendShortcut(event)) return;
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (isTyping(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (document.querySelector(".modal.show") && event.key !== "?") return;
    if (event.key === "?") {
      event.preventDefault();
      showHelp();
      return;
    }
    if ((event.key === "j" || event.key === "k") && document.querySelector("[data-queue-item]")) {
      event.preventDefault();
      moveSelection(event.key === "j" ? 1 : -1);
      return;
    }
    if (!/^[a-z]$/.test(event.key)) return;
    var target = document.querySelector('[data-key="' + event.key + '"]');
    if (!target || target.disabled) return;
    event.preventDefault();
    activate(target);
  });

  // One press, one touch: a form already on its way ignores further submits.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.submitting) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    form.dataset.submitting = "1";
  }, true);
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target && event.target.closest && event.target.closest("form");
    if (form) delete form.dataset.submitting;
  });
  window.addEventListener("pageshow", function () {
    // Back to a page from the browser's cache: its forms may be sent again.
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      delete form.dataset.submitting;
    });
  });

  // The voicemail script names the callback time the rep has chosen.
  function customPhrase(box) {
    var input = box.querySelector('input[name="callback_at"]');
    if (!input || !input.value || input.value.indexOf("T") < 0) return "";
    var parts = input.value.split("T");
    var clock = parts[1].slice(0, 5).split(":");
    var time = Number(clock[0]) + ":" + clock[1];
    var days = Math.round(
      (Date.parse(parts[0] + "T00:00:00Z") - Date.parse(box.dataset.leadToday + "T00:00:00Z")) /
        86400000
    );
    if (days === 0) return "today at " + time;
    if (days === 1) return "tomorrow at " + time;
    var weekday = new Date(parts[0] + "T12:00:00Z").toLocaleDateString("en-US", {
      weekday: "long",
      timeZone: "UTC",
    });
    return "on " + weekday + " at " + time;
  }

  function updateVoicemailScript() {
    var box = document.getElementById("voicemail-box");
    if (!box) return;
    var chosen = box.querySelector('input[name="callback"]:checked');
    var target = box.querySelector("[data-callback-phrase]");
    if (!chosen || !target) return;
    var phrase = chosen.value === "custom" ? customPhrase(box) : chosen.dataset.phrase;
    target.textContent = phrase || "at the time I pick";
  }

  document.addEventListener("focusin", function (event) {
    if (event.target.name === "callback_at") {
      var custom = document.getElementById("callback-custom");
      if (custom) custom.checked = true;
      updateVoicemailScript();
    }
  });
  document.addEventListener("input", function (event) {
    if (event.target.name === "callback" || event.target.name === "callback_at") {
      updateVoicemailScript();
    }
  });
  document.addEventListener("change", function (event) {
    if (event.target.name === "callback" || event.target.name === "callback_at") {
      updateVoicemailScript();
    }
  });

  // "insert link" of the suggested asset, at the cursor in the composer's body.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-insert-asset]");
    if (!button) return;
    var body = document.getElementById("id_body");
    if (!body) return;
    var text = button.dataset.insertAsset;
    var at = body.selectionStart || body.value.length;
    body.value = body.value.slice(0, at) + text + body.value.slice(at);
    body.focus();
    body.selectionStart = body.selectionEnd = at + text.length;
  });

  document.addEventListener("htmx:afterSettle", updateVoicemailScript);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", updateVoicemailScript);
  } else {
    updateVoicemailScript();
  }
})();
