// authkit's progressive enhancements (the forms work without them): show/hide password,
// a loading state on submit, the resend-code countdown, focus after htmx swaps, and
// handing a mailed link's token from the fragment to the server.
// Served from 'self' and free of eval, so a strict Content-Security-Policy holds.
(function () {
  "use strict";

  function enhance(root) {
    root.querySelectorAll("[data-ak-toggle]").forEach(function (button) {
      button.hidden = false;
    });
    root.querySelectorAll("[data-ak-countdown]").forEach(startCountdown);
  }

  // A mailed link (reset, sign-in) carries its token in the fragment, which no request
  // line, and so no server or proxy log, ever holds. Take it out of the address bar and
  // history first, then post it with the page's handoff form; without JavaScript the
  // page asks for the link to be pasted instead.
  function handOverLinkToken() {
    var form = document.querySelector("form[data-ak-link-handoff]");
    var match = /(?:^#|&)token=([\w-]+)/.exec(window.location.hash);
    if (!form || !match) return;
    history.replaceState(history.state, "", window.location.pathname + window.location.search);
    form.elements.link.value = match[1];
    form.submit();
  }

  function startCountdown(el) {
    if (el.dataset.akCounting) return;
    el.dataset.akCounting = "1";
    var seconds = parseInt(el.dataset.akCountdown, 10) || 0;
    var text = el.textContent;
    var timer = setInterval(function () {
      seconds -= 1;
      if (seconds <= 0 || !el.isConnected) {
        clearInterval(timer);
        el.hidden = true;
        // The cooldown is over: the "send a new code" button beside it works again.
        var form = el.closest("form");
        if (form) form.querySelectorAll("[data-ak-wait]").forEach(function (b) { b.disabled = false; });
        return;
      }
      el.textContent = text.replace(/\d+/, String(seconds));
    }, 1000);
  }

  function setBusy(form, busy) {
    form.setAttribute("aria-busy", busy ? "true" : "false");
    form.querySelectorAll("button[type=submit]").forEach(function (b) {
      b.disabled = busy;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-ak-toggle]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-ak-toggle"));
    if (!input) return;
    var show = input.type === "password";
    input.type = show ? "text" : "password";
    button.textContent = show ? (button.dataset.akHide || "Hide") : (button.dataset.akShow || "Show");
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.closest(".ak-component, .ak-user-button")) return;
    // The button is disabled after the submit has captured the form's data.
    setTimeout(function () { setBusy(form, true); }, 0);
    // Safety net: never leave a form stuck busy (network error, back button).
    setTimeout(function () { if (form.isConnected) setBusy(form, false); }, 15000);
  });

  document.addEventListener("htmx:after:request", function (event) {
    var form = event.target && event.target.closest && event.target.closest("form");
    if (form && form.isConnected) setBusy(form, false);
  });

  document.addEventListener("htmx:after:swap", function () {
    enhance(document);
    // Put the keyboard where the next step starts: the first field in error, or the
    // autofocus field of a newly swapped step.
    var target = document.querySelector(".ak-component [aria-invalid=true], .ak-component [autofocus]");
    if (target) target.focus();
  });

  window.addEventListener("pageshow", function () {
    document.querySelectorAll(".ak-component form[aria-busy=true]").forEach(function (form) {
      setBusy(form, false);
    });
  });

  function start() {
    handOverLinkToken();
    enhance(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
