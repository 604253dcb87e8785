// Our own JavaScript: kept to a few small enhancements; every page works without it.
(function () {
  "use strict";

  // Refusals (400 invalid input, 409 stale table) come with the region to show, as
  // on a page without JavaScript: let htmx swap them in instead of dropping them.
  if (window.htmx) {
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "40[09]", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
      { code: "...", swap: false },
    ];
  }

  function announce(text) {
    var region = document.getElementById("announcer");
    if (region) { region.textContent = ""; setTimeout(function () { region.textContent = text; }, 50); }
  }

  // New sender: suggest a slug from the name until the slug is typed by hand.
  document.addEventListener("input", function (event) {
    var slug = document.querySelector("[data-slug-from]");
    if (!slug) return;
    if (event.target === slug) { slug.dataset.touched = "1"; return; }
    if (event.target.id !== slug.dataset.slugFrom || slug.dataset.touched) return;
    slug.value = event.target.value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 100);
  });

  // ---- Reordering rules: drag the handle, or pick it up with the keyboard.
  var picked = null; // {row, handle, next} while a rule is held with the keyboard
  var dragged = null;

  function rules(tbody) { return Array.prototype.filter.call(tbody.rows, function (r) { return r.dataset.position; }); }
  function positionOf(row) { var tbody = row.parentNode; return Number(tbody.dataset.first) + rules(tbody).indexOf(row); }

  function move(row, to) {
    var region = document.getElementById("rules");
    var pk = row.id.replace("rule-", "");
    document.body.addEventListener("htmx:afterSettle", function refocus() {
      document.body.removeEventListener("htmx:afterSettle", refocus);
      var handle = document.querySelector("#rule-" + pk + " .drag-handle");
      if (handle) handle.focus();
      var status = document.querySelector("#rules [role=status], #rules [role=alert]");
      if (status) announce(status.textContent);
    });
    htmx.ajax("POST", row.dataset.moveUrl, {
      source: row.querySelector(".drag-handle"), target: "#rules", swap: "outerHTML",
      values: { to: String(to), revision: region.dataset.revision },
    });
  }

  function pickUp(handle) {
    var row = handle.closest("tr");
    picked = { row: row, handle: handle, index: rules(row.parentNode).indexOf(row), from: positionOf(row) };
    row.classList.add("dragging");
    handle.setAttribute("aria-pressed", "true");
    announce("Picked up rule " + picked.from + ". Arrow keys move it, Space or Enter drops it, Escape cancels.");
  }

  function release(drop) {
    var held = picked;
    picked = null;
    held.row.classList.remove("dragging");
    held.handle.setAttribute("aria-pressed", "false");
    var to = positionOf(held.row);
    if (!drop || to === held.from) {
      var others = rules(held.row.parentNode).filter(function (r) { return r !== held.row; });
      held.row.parentNode.insertBefore(held.row, others[held.index] || null);
      held.handle.focus();
      announce(drop ? "Rule " + held.from + " stays where it was." : "Move cancelled: rule " + held.from + " is back at position " + held.from + ".");
      return;
    }
    move(held.row, to);
  }

  document.addEventListener("click", function (event) {
    var handle = event.target.closest(".drag-handle");
    if (!handle) return;
    if (!picked) pickUp(handle);
    else if (picked.handle === handle) release(true);
  });

  document.addEventListener("keydown", function (event) {
    if (!picked || event.target !== picked.handle) return;
    var row = picked.row, list = rules(row.parentNode), index = list.indexOf(row);
    if (event.key === "Escape") { event.preventDefault(); release(false); return; }
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    event.preventDefault();
    // Move the neighbour rather than the held row, so that focus stays on the handle.
    if (event.key === "ArrowUp" && index > 0) row.parentNode.insertBefore(list[index - 1], row.nextSibling);
    else if (event.key === "ArrowDown" && index < list.length - 1) row.parentNode.insertBefore(list[index + 1], row);
    else { announce("Rule " + picked.from + " is at the " + (index ? "bottom" : "top") + " of this page, position " + positionOf(row) + "."); return; }
    announce("Rule " + picked.from + ": position " + positionOf(row) + " of " + row.parentNode.dataset.count + ".");
  });

  document.addEventListener("focusout", function (event) {
    if (picked && event.target === picked.handle && event.relatedTarget) release(false);
  });

  // Mouse: the row becomes draggable only while its handle is held.
  document.addEventListener("mousedown", function (event) {
    var handle = event.target.closest(".drag-handle");
    if (handle) handle.closest("tr").draggable = true;
  });
  document.addEventListener("dragstart", function (event) {
    var row = event.target.closest && event.target.closest("tr[data-move-url]");
    if (!row) return;
    dragged = row;
    row.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", row.id);
  });
  function target(event) {
    var row = event.target.closest && event.target.closest("tr[data-position]");
    return dragged && row && row !== dragged && row.parentNode === dragged.parentNode ? row : null;
  }
  function clearTargets() {
    document.querySelectorAll("tr.drop-target").forEach(function (r) { r.classList.remove("drop-target", "after"); });
  }
  document.addEventListener("dragover", function (event) {
    var row = target(event);
    if (!row) return;
    event.preventDefault();
    clearTargets();
    row.classList.add("drop-target");
    if (positionOf(row) > positionOf(dragged)) row.classList.add("after");
  });
  document.addEventListener("drop", function (event) {
    var row = target(event);
    if (!row) return;
    event.preventDefault();
    var to = positionOf(row);
    clearTargets();
    move(dragged, to);
  });
  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); dragged.draggable = false; }
    dragged = null;
    clearTargets();
  });

  // The handles and their help are only useful with this script: show them.
  function enhance(root) {
    root.querySelectorAll(".drag-handle[hidden], #reorder-help[hidden]").forEach(function (el) { el.hidden = false; });
  }
  if (window.htmx) htmx.onLoad(enhance);
  else document.addEventListener("DOMContentLoaded", function () { enhance(document); });
})();
