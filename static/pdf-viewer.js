// The paper beside the review form: pdf.js (vendored, static/vendor/pdfjs) renders each page to a canvas in
// the pane, with a thumbnail strip; links to "#pdf-page-N" (a claim's page) scroll the pane to page N.
// A module, so it runs once per document: it sets up every .pdf-viewer now and each one htmx swaps in later
// (hx-boost navigation). No inline script, so a strict Content-Security-Policy holds.
import * as pdfjs from "/static/vendor/pdfjs/pdf.min.mjs";

const THUMB_WIDTH = 96;

function setStatus(viewer, text) {
  const status = viewer.querySelector(".pdf-status");
  if (status) status.textContent = text;
}

function pageBox(viewer, n) {
  return viewer.querySelector(`.pdf-pages [data-page="${n}"]`);
}

function showPage(viewer, n) {
  const box = pageBox(viewer, n);
  if (!box) return false;
  const pane = viewer.querySelector(".pdf-pages");
  pane.scrollTo({ top: box.offsetTop - pane.offsetTop, behavior: "auto" });
  viewer.querySelectorAll(".pdf-thumbs a").forEach((a) => {
    if (Number(a.dataset.page) === n) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  viewer.dataset.currentPage = String(n);
  return true;
}

async function renderPage(viewer, doc, n, width) {
  const page = await doc.getPage(n);
  const base = page.getViewport({ scale: 1 });
  const viewport = page.getViewport({ scale: width / base.width });
  const ratio = window.devicePixelRatio || 1;
  const canvas = document.createElement("canvas");
  canvas.width = Math.floor(viewport.width * ratio);
  canvas.height = Math.floor(viewport.height * ratio);
  canvas.style.width = `${Math.floor(viewport.width)}px`;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `Page ${n} of ${doc.numPages}`);
  const box = document.createElement("div");
  box.className = "pdf-page";
  box.id = `pdf-page-${n}`;
  box.dataset.page = String(n);
  box.appendChild(canvas);
  viewer.querySelector(".pdf-pages").appendChild(box);
  await page.render({
    canvasContext: canvas.getContext("2d"), viewport,
    transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null,
  }).promise;

  // the thumbnail is the rendered page drawn small (no second render)
  const thumb = document.createElement("canvas");
  thumb.width = THUMB_WIDTH;
  thumb.height = Math.round(THUMB_WIDTH * canvas.height / canvas.width);
  thumb.getContext("2d").drawImage(canvas, 0, 0, thumb.width, thumb.height);
  thumb.setAttribute("aria-hidden", "true");
  const link = document.createElement("a");
  link.href = `#pdf-page-${n}`;
  link.dataset.page = String(n);
  link.appendChild(thumb);
  const label = document.createElement("span");
  label.textContent = `Page ${n}`;
  link.appendChild(label);
  viewer.querySelector(".pdf-thumbs").appendChild(link);
  viewer.dataset.renderedPages = String(n);
}

async function open(viewer) {
  if (viewer.dataset.ready) return;
  viewer.dataset.ready = "loading";
  pdfjs.GlobalWorkerOptions.workerSrc = viewer.dataset.workerSrc;
  try {
    // isEvalSupported: false keeps pdf.js from trying `new Function` (refused under a CSP without unsafe-eval)
    const doc = await pdfjs.getDocument({ url: viewer.dataset.pdfUrl, isEvalSupported: false }).promise;
    viewer.dataset.pages = String(doc.numPages);
    const pane = viewer.querySelector(".pdf-pages");
    const width = Math.max(300, pane.clientWidth - 24);
    for (let n = 1; n <= doc.numPages; n += 1) {
      setStatus(viewer, `Page ${n} of ${doc.numPages} is being drawn…`);
      await renderPage(viewer, doc, n, width);
    }
    setStatus(viewer, `${doc.numPages} page${doc.numPages === 1 ? "" : "s"} (the anonymized copy).`);
    viewer.dataset.ready = "done";
    const wanted = /^#pdf-page-(\d+)$/.exec(window.location.hash);
    if (wanted) showPage(viewer, Number(wanted[1]));
  } catch (err) {
    viewer.dataset.ready = "error";
    setStatus(viewer, "The PDF cannot be shown here: use “Open the PDF” above.");
    console.error("pdf viewer:", err);
  }
}

function setUp(root) {
  const scope = root && root.querySelectorAll ? root : document;
  const found = [...scope.querySelectorAll(".pdf-viewer")];
  if (scope.matches && scope.matches(".pdf-viewer")) found.push(scope);
  found.forEach((viewer) => { open(viewer); });
}

// one listener for every link to a page: thumbnails and the claims' "page N" links alike
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest('a[href^="#pdf-page-"]');
  if (!link) return;
  const viewer = document.querySelector(".pdf-viewer");
  const n = Number(link.getAttribute("href").slice("#pdf-page-".length));
  if (viewer && showPage(viewer, n)) {
    event.preventDefault();
    viewer.scrollIntoView({ block: "nearest" });
  }
});

document.addEventListener("htmx:load", (event) => setUp(event.target));
setUp(document);
