// Our own JavaScript: kept to a few small enhancements; every page works without it.
(function () {
  "use strict";

  // Refusals (400 invalid input, 409 stale table, 413 too big) come with the region to show, as
  // on a page without JavaScript: let htmx swap them in instead of dropping them.
  if (window.htmx) {
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "40[09]", swap: true, error: false },
      { code: "413", swap: true, error: false }, // too big: the message says so
      { code: "429", swap: true, error: false }, // too often: the message says when to retry
      { code: "503", swap: true, error: false }, // the database failed: nothing saved, text kept
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

  // ---- The revision the table page shows (stale-edit detection; see the table-perf section).
  function currentRevision() {
    var heading = document.getElementById("rules-heading");
    return heading ? heading.dataset.revision : "";
  }

  // ---- Reordering rules: drag the handle, or pick it up with the keyboard.
  var picked = null; // {row, handle, next} while a rule is held with the keyboard
  var dragged = null;

  function rules(tbody) { return Array.prototype.filter.call(tbody.rows, function (r) { return r.dataset.position; }); }
  function positionOf(row) { var tbody = row.parentNode; return Number(tbody.dataset.first) + rules(tbody).indexOf(row); }

  function move(row, to) {
    var pk = row.id.replace("rule-", "");
    document.body.addEventListener("htmx:afterSettle", function refocus() {
      document.body.removeEventListener("htmx:afterSettle", refocus);
      var handle = document.querySelector("#rule-" + pk + " .drag-handle");
      if (handle) handle.focus();
      var status = document.querySelector("#rules [role=status], #rules [role=alert]");
      if (status) announce(status.textContent);
    });
    htmx.ajax("POST", row.dataset.moveUrl, {
      source: row.querySelector(".drag-handle"), target: "#rules", swap: "none",
      values: { to: String(to), revision: currentRevision() },
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

  // ---- Keep keyboard focus when htmx replaces the region that held it: back on
  // the same control (found by its form and button name, as its label may have
  // changed: "Disable" becomes "Enable"), or in the field of a row opened for editing.
  // Kept per request: an earlier answer that settles after the next action left must not
  // take that action's place (focus moved on meanwhile, so it leaves it alone).
  var focusBefore = new WeakMap(); // a request's XMLHttpRequest → where the focus was
  document.addEventListener("htmx:beforeRequest", function (event) {
    var el = document.activeElement;
    if (!el || el === document.body || el.classList.contains("drag-handle")) return;
    var form = el.form || el.closest("form");
    var row = el.closest("tr[id^='rule-']");
    focusBefore.set(event.detail.xhr, { id: el.id, href: el.getAttribute("href"), name: el.name, value: el.value,
      action: form ? form.getAttribute("action") : null, row: row ? row.id : null });
  });
  function pathOf(url) { return url ? url.split("?")[0] : null; }
  function refind(was) {
    var own = was.row ? "#" + was.row : "tr";
    var opened = document.querySelector(own + ".editing textarea, " + own +
      ".editing input:not([type=hidden]), " + own + ".confirm-delete button");
    if (opened) return opened;
    var path = pathOf(was.action || was.href);
    var forms = document.querySelectorAll("form[action]");
    for (var i = 0; path && i < forms.length; i++) {
      if (pathOf(forms[i].getAttribute("action")) !== path) continue;
      var buttons = forms[i].querySelectorAll(was.name ? "[name='" + was.name + "']" : "button");
      var same = Array.prototype.filter.call(buttons, function (b) { return b.value === was.value; });
      if (same.length || buttons.length) return same[0] || buttons[0];
    }
    // Back from an edit or delete row: the rule's own first action.
    var row = was.row && document.getElementById(was.row);
    var action = row && (row.querySelector(".row-actions a, .row-actions button") || row.querySelector(".actions a, .actions button"));
    if (action) return action;
    var links = document.querySelectorAll("a[href]");
    for (var j = 0; path && j < links.length; j++) {
      if (pathOf(links[j].getAttribute("href")) === path) return links[j];
    }
    var found = was.id && document.getElementById(was.id);
    if (found) return found;
    // The control is gone (its rule was deleted): read out what happened instead.
    var notice = document.querySelector("#rules [role=status], #rules [role=alert]");
    if (notice) notice.tabIndex = -1;
    return notice;
  }
  document.addEventListener("htmx:afterSettle", function (event) {
    var was = event.detail.xhr && focusBefore.get(event.detail.xhr);
    if (was) focusBefore.delete(event.detail.xhr);
    if (!was || (document.activeElement && document.activeElement !== document.body)) return;
    var el = refind(was);
    if (el) el.focus();
  });

  // ---- Export token: a read-only field selects all of itself when focused, and its Copy
  // button (hidden without this script) puts the value on the clipboard.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[data-select-on-focus]")) event.target.select();
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.dataset.copy);
    if (!field) return;
    function copied() { announce("Copied to the clipboard."); button.textContent = "Copied"; }
    function fallback() {
      field.focus();
      field.select();
      if (document.execCommand && document.execCommand("copy")) copied();
      else announce("Press Ctrl+C (or Cmd+C) to copy the selected token.");
    }
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(field.value).then(copied, fallback);
    else fallback();
  });

  // ---- The tester: inputs the browser refuses (Retries -1) send no request, so the result
  // of earlier inputs would stay next to them as if it were theirs: say what to fix instead.
  function markStale(form) {
    var result = document.getElementById(form.dataset.result);
    if (!result) return;
    var invalid = Array.prototype.filter.call(form.elements, function (el) { return el.willValidate && !el.validity.valid; });
    var note = result.querySelector(".stale-note");
    result.classList.toggle("stale", invalid.length > 0);
    if (!invalid.length) { if (note) note.remove(); return; }
    if (!note) {
      note = document.createElement("div");
      note.className = "stale-note";
      result.insertBefore(note, result.firstElementChild ? result.firstElementChild.nextSibling : null);
    }
    note.textContent = "";
    var intro = document.createElement("p");
    intro.className = "error";
    intro.textContent = "Fix " + (invalid.length > 1 ? "these" : "this") + " to see a result:";
    var list = document.createElement("ul");
    list.className = "errorlist";
    invalid.forEach(function (el) {
      var item = document.createElement("li");
      var label = el.labels && el.labels.length ? el.labels[0].textContent.trim() : el.name;
      item.textContent = label + ": " + el.validationMessage;
      list.appendChild(item);
    });
    note.appendChild(intro);
    note.appendChild(list);
  }
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (form && form.dataset.result) markStale(form);
  });

  // ---- Bulk editor: an error's "line N, col M" link puts the cursor there in the text.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.error-link[data-line]");
    if (!link) return;
    var text = document.getElementById(link.getAttribute("href").slice(1));
    if (!text || !("setSelectionRange" in text)) return;
    event.preventDefault();
    var lines = text.value.split("\n");
    var line = Math.min(Number(link.dataset.line), lines.length);
    var offset = 0;
    for (var i = 0; i < line - 1; i++) offset += lines[i].length + 1;
    offset += Math.min(Number(link.dataset.column) - 1, lines[line - 1].length);
    text.focus();
    text.setSelectionRange(offset, offset);
    var height = parseFloat(getComputedStyle(text).lineHeight) || 20;
    text.scrollTop = Math.max(0, (line - 3) * height);
  });

  // ---- Bulk editor: line numbers beside the text, the lines with errors marked.
  function gutterOf(text) {
    var gutter = text.previousElementSibling;
    if (gutter && gutter.classList.contains("gutter")) return gutter;
    var box = document.createElement("div");
    box.className = "numbered";
    text.parentNode.insertBefore(box, text);
    gutter = document.createElement("pre");
    gutter.className = "gutter";
    gutter.setAttribute("aria-hidden", "true");
    box.appendChild(gutter);
    box.appendChild(text);
    text.setAttribute("wrap", "off");
    text.addEventListener("scroll", function () { gutter.scrollTop = text.scrollTop; });
    return gutter;
  }
  function numberLines() {
    var text = document.querySelector("textarea[data-line-numbers]");
    if (!text) return;
    var gutter = gutterOf(text);
    var bad = {};
    document.querySelectorAll("a.error-link[data-line]").forEach(function (a) { bad[a.dataset.line] = true; });
    var count = text.value.split("\n").length;
    gutter.textContent = "";
    for (var n = 1; n <= count; n++) {
      var span = document.createElement("span");
      span.textContent = String(n);
      if (bad[n]) span.className = "error-line";
      gutter.appendChild(span);
    }
    gutter.scrollTop = text.scrollTop;
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-line-numbers]")) numberLines();
  });
  document.addEventListener("htmx:afterSettle", numberLines);
  document.addEventListener("DOMContentLoaded", numberLines);

  // The handles and their help are only useful with this script: show them.
  function enhance(root) {
    root.querySelectorAll(".drag-handle[hidden], #reorder-help[hidden], button[data-copy][hidden]").forEach(function (el) { el.hidden = false; });
    enhanceRows(root);
  }
  // ---- table page (table-perf): row actions answer with only what changed (table.html#changes).
  // Rows come back out of band, marked data-fresh: put each at its position among the others,
  // then renumber the rows whose position changed (a move or a delete shifts its neighbours).
  // An edit or a delete question open on another row is never replaced: it only gets its new number.
  var requestRow = null;
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    var rules = document.getElementById("rules");
    requestRow = elt.closest ? elt.closest("tr[id^='rule-']") : null;
    // Forms carry the revision the page was rendered at; since then the page followed our own
    // changes, so it shows the revision in the heading: send that one.
    if (!rules || !currentRevision()) return;
    var params = event.detail.parameters;
    if (params.revision !== undefined) params.revision = currentRevision();
    else if (event.detail.verb === "get" && rules.contains(elt) && elt.closest("tbody")) params.revision = currentRevision();
  });
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (!target.matches || !target.matches("tr.editing, tr.confirm-delete") || target === requestRow) return;
    var fragment = event.detail.fragment;
    var fresh = fragment.querySelector && (fragment.querySelector("tr[data-position]") || fragment.firstElementChild);
    if (fresh && fresh.dataset && fresh.dataset.position) {
      renumber(target, Number(fresh.dataset.position));
      target.dataset.fresh = "";
    }
    event.detail.shouldSwap = false;
  });
  function renumber(row, position) {
    row.dataset.position = String(position);
    var number = row.querySelector(".number");
    if (number) number.textContent = String(position);
    var words = /\brule \d+/g, to = "rule " + position;
    row.querySelectorAll("[aria-label]").forEach(function (el) {
      el.setAttribute("aria-label", el.getAttribute("aria-label").replace(words, to));
    });
    row.querySelectorAll("label.visually-hidden, [data-renumber]").forEach(function (el) {
      el.textContent = el.textContent.replace(/\b([Rr])ule \d+/g, "$1ule " + position);
    });
  }
  function reconcile(tbody) {
    var first = Number(tbody.dataset.first);
    var fresh = Array.prototype.slice.call(tbody.querySelectorAll("tr[data-fresh]"));
    fresh.forEach(function (row) { tbody.removeChild(row); });
    fresh.sort(function (a, b) { return a.dataset.position - b.dataset.position; });
    fresh.forEach(function (row) {
      row.removeAttribute("data-fresh");
      tbody.insertBefore(row, tbody.rows[Number(row.dataset.position) - first] || null);
    });
    var rows = tbody.rows;
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].dataset.position !== String(first + i)) renumber(rows[i], first + i);
    }
    var heading = document.getElementById("rules-heading");
    var count = heading ? heading.textContent.match(/\((\d+);/) : null;
    if (count) tbody.dataset.count = count[1];
  }
  document.addEventListener("htmx:afterSwap", function () {
    var tbody = document.querySelector("#rules tbody");
    if (tbody) reconcile(tbody);  // a few microseconds when nothing moved
  });

  // ---- table page: the row actions, with one listener each for the whole table. A row's form and
  // its Edit and Delete links carry no hx-* attribute (htmx would set up about ten elements a row,
  // 200 rows a page): with htmx, these send them as the attributes would. The form's answer is
  // what changed, out of band (table.html#changes); a link turns its row into the edit form or
  // the delete question. Without htmx (or a browser that does not say which button was pressed),
  // the form posts and the link opens as on a page without JavaScript.
  function rowOf(el) { return el.closest("tr[id^='rule-']"); }
  document.addEventListener("submit", function (event) {
    var form = event.target, button = event.submitter;
    if (!window.htmx || !button || !form.matches("#rules tr.rule td.actions form")) return;
    event.preventDefault();
    // The revision the form was rendered with; htmx:configRequest (above) sends the page's.
    var values = { revision: form.elements.revision.value };
    if (button.name) values[button.name] = button.value;
    if (button.hasAttribute("data-after-input")) {
      var typed = form.querySelector(".move-to input");
      if (!typed.reportValidity()) return;
      values.to = typed.value;
    }
    htmx.ajax("POST", button.getAttribute("formaction") || form.getAttribute("action"), {
      source: button, target: rowOf(form), swap: "none", values: values,
    });
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("#rules tr.rule .row-actions a[href]");
    if (!window.htmx || !link || event.button || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    htmx.ajax("GET", link.pathname, { source: link, target: rowOf(link), swap: "outerHTML" });
  });

  // Chrome's autofill reads each form that holds a text field once the page has loaded (after
  // DOMContentLoaded): about 1 ms a form, so a page of 200 rules waited 170 ms for it. With htmx
  // the position field needs no form (the listener above sends its value), so it leaves its
  // row's form before that: this script is deferred and runs before DOMContentLoaded. Enter in
  // it still moves the rule, as the Move button would.
  function detachPositions(root) {
    if (!window.htmx) return;
    root.querySelectorAll("#rules .move-to input[name=to]:not([form])").forEach(function (input) {
      input.setAttribute("form", "");  // no form has the id "": the field belongs to none
    });
  }
  detachPositions(document);
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (event.key !== "Enter" || !input.matches || !input.matches("#rules .move-to input") || input.form) return;
    event.preventDefault();
    input.closest("form").querySelector("[data-after-input]").click();
  });

  // Each rule's actions are one toolbar and one tab stop: the arrow keys, Home and End move
  // along it (a roving tabindex). Without this script every action is a tab stop of its own.
  function enhanceRows(root) {
    detachPositions(root);
    root.querySelectorAll(".row-actions").forEach(function (bar) {
      var items = bar.querySelectorAll("a, button");
      for (var i = 1; i < items.length; i++) items[i].tabIndex = -1;
    });
    // Enter in the position field submits with the Move button: no tab stop of its own.
    root.querySelectorAll(".move-to [data-after-input]").forEach(function (button) { button.tabIndex = -1; });
  }
  document.addEventListener("focusin", function (event) {
    var bar = event.target.closest && event.target.closest(".row-actions");
    if (!bar) return;
    bar.querySelectorAll("a, button").forEach(function (item) { item.tabIndex = item === event.target ? 0 : -1; });
  });
  document.addEventListener("keydown", function (event) {
    var bar = event.target.closest && event.target.closest(".row-actions");
    if (!bar) return;
    var items = Array.prototype.slice.call(bar.querySelectorAll("a, button"));
    var index = items.indexOf(event.target), next = null;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") next = items[(index + 1) % items.length];
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") next = items[(index - 1 + items.length) % items.length];
    else if (event.key === "Home") next = items[0];
    else if (event.key === "End") next = items[items.length - 1];
    if (!next) return;
    event.preventDefault();
    next.focus();
  });

  if (window.htmx) htmx.onLoad(enhance);
  else document.addEventListener("DOMContentLoaded", function () { enhance(document); });
})();
