/* Cadence steps in Django admin: each step shows its channel's fields; ↑/↓ reorder.
 *
 * - A call, letter, social touch or task has no subject, body or automatic mode; a
 *   text message has a body only. Their rows are hidden here, and the server drops
 *   what they still hold on save (cadences/admin_forms.py), so page and data agree.
 * - ↑/↓ swap a step's position with its neighbour's: the position field stays the
 *   truth, so the page works without this script by typing positions.
 * Every change fires a "change" event, which refreshes the timeline preview (htmx).
 */
(function () {
  "use strict";
  if (window.followupAdminSteps) return;
  window.followupAdminSteps = true;

  var ONLY_FOR = { subject: ["email"], body: ["email", "sms"], mode: ["email"] };

  function field(block, name) {
    return block.querySelector("[name$='-" + name + "'], [name='" + name + "']");
  }

  function stepBlocks() {
    return Array.prototype.slice
      .call(document.querySelectorAll(".cadence-steps .inline-related"))
      .filter(function (block) {
        return !block.classList.contains("empty-form") && field(block, "position");
      });
  }

  function isRemoved(block) {
    var removed = block.querySelector(".field-removed_at .readonly");
    return Boolean(removed && removed.textContent.trim() && removed.textContent.trim() !== "-");
  }

  function showFor(block, name, visible) {
    block.querySelectorAll(".field-" + name).forEach(function (el) {
      // A line of several fields carries every field's class: hide only this field's box.
      if (el.querySelector(".fieldBox")) return;
      el.style.display = visible ? "" : "none";
    });
  }

  function applyChannel(block) {
    var channel = field(block, "channel");
    if (!channel) return;
    Object.keys(ONLY_FOR).forEach(function (name) {
      showFor(block, name, ONLY_FOR[name].indexOf(channel.value) !== -1);
    });
    var mode = field(block, "mode");
    if (mode && channel.value !== "email") mode.value = "manual";
  }

  function position(block) {
    var value = parseInt(field(block, "position").value, 10);
    return isNaN(value) ? Infinity : value;
  }

  function byPosition() {
    return stepBlocks()
      .filter(function (block) { return !isRemoved(block); })
      .sort(function (a, b) { return position(a) - position(b); });
  }

  function move(block, delta) {
    var ordered = byPosition();
    var index = ordered.indexOf(block);
    var other = ordered[index + delta];
    if (index < 0 || !other) return;
    var mine = field(block, "position");
    var theirs = field(other, "position");
    var swap = mine.value;
    mine.value = theirs.value;
    theirs.value = swap;
    // Moving a saved step's form past an unsaved one would let Django's inline script
    // renumber them into each other's places; their positions alone carry the order.
    if (block.classList.contains("has_original") === other.classList.contains("has_original")) {
      if (delta < 0) other.parentNode.insertBefore(block, other);
      else other.parentNode.insertBefore(other, block);
    }
    mine.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function orderButtons(block) {
    var heading = block.querySelector("h3");
    if (!heading || heading.querySelector(".step-order") || isRemoved(block)) return;
    var box = document.createElement("span");
    box.className = "step-order";
    [["↑", -1, "Move this step up"], ["↓", 1, "Move this step down"]].forEach(function (spec) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button";
      button.textContent = spec[0];
      button.title = spec[2];
      button.setAttribute("aria-label", spec[2]);
      button.addEventListener("click", function () { move(block, spec[1]); });
      box.appendChild(button);
    });
    heading.appendChild(box);
  }

  function nextPosition() {
    var highest = 0;
    stepBlocks().forEach(function (block) {
      var value = position(block);
      if (value !== Infinity) highest = Math.max(highest, value);
    });
    return highest + 1;
  }

  function setUp(block) {
    var removedAt = block.querySelector(".field-removed_at");
    var removedBox = removedAt && removedAt.closest("fieldset");
    if (isRemoved(block)) block.classList.add("step-removed");
    else if (removedBox) removedBox.style.display = "none"; // "Removed at: -" says nothing
    applyChannel(block);
    orderButtons(block);
  }

  document.addEventListener("change", function (event) {
    if (!/(^|-)channel$/.test(event.target.name || "")) return;
    var block = event.target.closest(".inline-related") || event.target.form;
    if (block) applyChannel(block);
  });

  document.addEventListener("formset:added", function (event) {
    var block = event.target;
    if (!block.closest || !block.closest(".cadence-steps")) return;
    var positionField = field(block, "position");
    if (positionField && !positionField.value) positionField.value = nextPosition();
    setUp(block);
  });

  function start() {
    stepBlocks().forEach(setUp);
    var stepForm = document.getElementById("step_form");
    if (stepForm) applyChannel(stepForm);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
