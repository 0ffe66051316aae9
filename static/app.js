/* The pages' own behaviour, as a static file so the Content-Security-Policy needs no 'unsafe-inline'.
   Listeners are on the document (delegated), so they also cover content htmx swaps in later. */
(function () {
  "use strict";

  function closest(target, selector) {
    return target instanceof Element ? target.closest(selector) : null;
  }

  // A drop zone (.dropzone holding a file input): dragging a file onto it fills the input.
  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (ev) {
      var zone = closest(ev.target, ".dropzone");
      if (!zone) return;
      ev.preventDefault();
      zone.classList.add("over");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    document.addEventListener(type, function (ev) {
      var zone = closest(ev.target, ".dropzone");
      if (!zone) return;
      ev.preventDefault();
      zone.classList.remove("over");
      var input = zone.querySelector("input[type=file]");
      if (type === "drop" && input && ev.dataTransfer && ev.dataTransfer.files.length) {
        input.files = ev.dataTransfer.files;
      }
    });
  });

  // Upload progress: a form's <progress> element follows htmx's upload progress events.
  document.addEventListener("htmx:xhr:progress", function (ev) {
    var form = closest(ev.target, "form");
    var bar = form && form.querySelector("progress");
    if (!bar) return;
    bar.hidden = false;
    if (ev.detail.lengthComputable) bar.value = ev.detail.loaded / ev.detail.total * 100;
  });

  // A form whose action depends on a field: data-action-template="/x/{field}/y" (see moderation_marks.html).
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var template = form instanceof HTMLFormElement ? form.getAttribute("data-action-template") : null;
    if (!template) return;
    form.action = template.replace(/\{(\w+)\}/g, function (_m, name) {
      var field = form.elements[name];
      return encodeURIComponent(field ? field.value : "");
    });
  }, true);
})();
