// Bot protection's browser half. Where a form carries an <altcha-widget>, ALTCHA's widget
// (vendored in ./altcha, the build that injects no styles and no workers, so the strict
// Content-Security-Policy holds) is loaded and solves the server's proof-of-work
// challenge while the visitor types; its answer travels in the form's hidden `altcha`
// field. Without this script the form still works: the server applies tighter limits.
const here = import.meta.url;
let loading = null;

function loadWidget() {
  if (!loading) {
    const style = document.createElement("link");
    style.rel = "stylesheet";
    style.href = new URL("./altcha/altcha.css", here).href;
    document.head.append(style);
    // Imported modules inherit this script's CSP nonce.
    loading = import("./altcha/altcha.min.js").then(() => {
      const worker = new URL("./altcha/pbkdf2.js", here).href;
      // Registered before the widgets start (they wait a timer tick after mounting).
      globalThis.$altcha.algorithms.set("PBKDF2/SHA-256", () => new Worker(worker));
    });
  }
  return loading;
}

function look() {
  if (document.querySelector("altcha-widget")) loadWidget();
}

const PENDING = ["unverified", "verifying"];
// A form sent before its proof is ready waits for it, never for long: the server takes
// the form without a proof too (under tighter limits).
const MOST_WAIT_MS = 10000;

document.addEventListener("submit", (event) => {
  const form = event.target;
  const widget = form instanceof HTMLFormElement && form.querySelector("altcha-widget");
  if (!widget || form.dataset.akProofWaited || typeof widget.getState !== "function") return;
  if (!PENDING.includes(widget.getState())) return;
  // Capturing, so htmx and the page's own handlers never see the early submission.
  event.preventDefault();
  event.stopImmediatePropagation();
  const submitter = event.submitter;
  // The button's loading state (authkit.css) while the proof finishes.
  form.setAttribute("aria-busy", "true");
  const go = () => {
    if (form.dataset.akProofWaited || !form.isConnected) return;
    form.dataset.akProofWaited = "1";
    form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
  };
  widget.addEventListener("statechange", (change) => {
    if (!PENDING.includes(change.detail && change.detail.state)) go();
  });
  setTimeout(go, MOST_WAIT_MS);
}, true);

document.addEventListener("htmx:after:swap", look);
look();
