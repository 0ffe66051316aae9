// Accessibility glue for htmx pages (a static file, no inline script: the CSP allows only 'self').
// - The autosave status #save-status is one node that stays (a live region): htmx swaps only its content, and
//   this file writes "Unsaved changes" / "Saving…" into it, so screen readers hear each change.
// - Elements with data-announce="key" (a run's status line) are read out through #announcer when an htmx swap
//   changes their text: a fragment swapped in already filled is not read by most screen readers.
// - An element with data-focus-on-load (a refused form's list of problems) takes the focus when it appears,
//   and each of its links moves the focus to the field it names.
(function () {
  "use strict";

  function saveStatus() { return document.getElementById("save-status"); }

  function showSaveState(state, text) {
    const status = saveStatus();
    if (!status) return;
    const shown = status.querySelector("[data-state]");
    const now = shown ? shown.dataset.state : null;
    if (now === state || now === "conflict") return; // a conflict stays visible until the page is reloaded
    const span = document.createElement("span");
    span.dataset.state = state;
    span.className = "muted";
    span.textContent = text;
    status.replaceChildren(span);
  }

  document.addEventListener("input", function (evt) {
    if (evt.target.closest && evt.target.closest("#review-form")) showSaveState("dirty", "Unsaved changes");
  });

  document.addEventListener("htmx:beforeRequest", function (evt) {
    if (evt.detail.target && evt.detail.target.id === "save-status") showSaveState("saving", "Saving…");
  });

  document.addEventListener("htmx:sendError", function (evt) {
    if (evt.detail.target && evt.detail.target.id === "save-status") {
      showSaveState("error", "Not saved: the server could not be reached. Your text is still here; " +
                             "it is saved with the next change.");
    }
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    const status = saveStatus();
    if (status && evt.detail.target === status) {
      const versioned = status.querySelector("[data-version]");
      if (versioned) status.dataset.version = versioned.dataset.version;
    }
  });

  // what each data-announce element said when last seen
  let said = new Map();

  function announceables() {
    const found = new Map();
    document.querySelectorAll("[data-announce]").forEach(function (el) {
      found.set(el.dataset.announce, el.textContent.replace(/\s+/g, " ").trim());
    });
    return found;
  }

  function announce(text) {
    const region = document.getElementById("announcer");
    if (region && text) region.textContent = text;
  }

  function focusOnLoad() {
    const el = document.querySelector("[data-focus-on-load]:not([data-focused])");
    if (el) {
      el.dataset.focused = "1";
      el.focus();
    }
  }

  document.addEventListener("htmx:afterSettle", function (evt) {
    const now = announceables();
    const navigated = evt.detail.boosted || evt.detail.target === document.body;
    if (!navigated) {
      const changed = [];
      now.forEach(function (text, key) {
        if (said.has(key) && said.get(key) !== text) changed.push(text);
      });
      if (changed.length) announce(changed.join(". "));
    }
    said = now;
    focusOnLoad();
  });

  // a link in a list of problems puts the focus in the field it names (a fragment link alone only scrolls)
  document.addEventListener("click", function (evt) {
    const link = evt.target.closest && evt.target.closest(".problems a[href^='#']");
    const target = link && document.getElementById(link.getAttribute("href").slice(1));
    if (target) {
      evt.preventDefault();
      target.focus();
      target.scrollIntoView({block: "center"});
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    said = announceables();
    focusOnLoad();
  });
})();
