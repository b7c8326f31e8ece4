// authkit's progressive enhancements (the forms work without them): show/hide password,
// a loading state on submit, the resend-code countdown, clearing a field's message once
// it is edited, focus after htmx swaps, and handing a mailed link's token from the
// fragment to the server.
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
    // The "send a new code" button beside it is rendered enabled (without JavaScript the
    // server answers an early press with the wait); here it waits out the countdown.
    var form = el.closest("form");
    var waiting = form ? form.querySelectorAll("[data-ak-wait]") : [];
    waiting.forEach(function (b) { b.disabled = true; b.dataset.akWaiting = "1"; });
    var timer = setInterval(function () {
      seconds -= 1;
      if (seconds <= 0 || !el.isConnected) {
        clearInterval(timer);
        el.hidden = true;
        waiting.forEach(function (b) { delete b.dataset.akWaiting; b.disabled = false; });
        return;
      }
      el.textContent = text.replace(/\d+/, String(seconds));
    }, 1000);
  }

  function setBusy(form, busy) {
    form.setAttribute("aria-busy", busy ? "true" : "false");
    form.querySelectorAll("button[type=submit]").forEach(function (b) {
      b.disabled = busy || b.dataset.akWaiting === "1";
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-ak-toggle]");
    if (!button) return;
    // Its own field's input, never another form's that shares a name on the page.
    var field = button.closest(".ak-field");
    var input = field && field.querySelector("input[data-ak-password]");
    if (!input) return;
    var show = input.type === "password";
    input.type = show ? "text" : "password";
    button.textContent = show ? (button.dataset.akHide || "Hide") : (button.dataset.akShow || "Show");
  });

  // A field's message from the last submit no longer applies once its value changes:
  // the message goes, and so do aria-invalid and the description pointing at it.
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(".ak-component .ak-input[aria-invalid=true]")) return;
    var field = input.closest(".ak-field");
    var error = field && field.querySelector(".ak-field__error");
    input.removeAttribute("aria-invalid");
    if (error) {
      var rest = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
        return id && id !== error.id;
      });
      if (rest.length) input.setAttribute("aria-describedby", rest.join(" "));
      else input.removeAttribute("aria-describedby");
      error.remove();
    }
    if (field) field.classList.remove("ak-field--invalid");
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

  // UserButton: the <details> menu becomes a WAI-ARIA menu button (roles, aria-expanded,
  // arrow keys, Home/End, Escape, Tab and an outside click close it) and is kept inside
  // the viewport. Without JavaScript it stays a plain <details>: it opens, and sign out
  // is its POST form, all the same.
  var userMenuCount = 0;
  var MENU_EDGE = 8; // px kept between an open menu and the viewport's edges

  function userMenuItems(details) {
    return Array.prototype.slice.call(details.querySelectorAll("[data-ak-menu] .ak-menu-item"));
  }

  function setUpUserButton(details) {
    var trigger = details.querySelector(".ak-user-button__trigger");
    var menu = details.querySelector("[data-ak-menu]");
    if (details.dataset.akMenuReady || !trigger || !menu) return;
    details.dataset.akMenuReady = "1";
    userMenuCount += 1;
    menu.id = menu.id || "ak-user-menu-" + userMenuCount;
    trigger.id = trigger.id || menu.id + "-button";
    trigger.setAttribute("aria-haspopup", "menu");
    trigger.setAttribute("aria-controls", menu.id);
    menu.setAttribute("role", "menu");
    menu.setAttribute("aria-labelledby", trigger.id);
    menu.querySelectorAll("form").forEach(function (form) { form.setAttribute("role", "none"); });
    userMenuItems(details).forEach(function (item) {
      item.setAttribute("role", "menuitem");
      item.tabIndex = -1; // roving focus: the arrow keys move between the items
    });
    details.addEventListener("toggle", function () { syncUserButton(details); });
    syncUserButton(details);
  }

  function syncUserButton(details) {
    var trigger = details.querySelector(".ak-user-button__trigger");
    if (trigger) trigger.setAttribute("aria-expanded", details.open ? "true" : "false");
    placeUserMenu(details);
  }

  // The menu hangs from the button's end edge; when that puts it past the viewport it
  // hangs from the start edge instead, and if neither fits it is shifted inside.
  function placeUserMenu(details) {
    var panel = details.querySelector(".ak-user-button__menu");
    if (!panel) return;
    details.classList.remove("ak-user-button--flip");
    panel.style.removeProperty("--ak-menu-shift");
    if (!details.open) return;
    var width = document.documentElement.clientWidth;
    function overflow(r) {
      return Math.max(0, MENU_EDGE - r.left) + Math.max(0, r.right - (width - MENU_EDGE));
    }
    var rect = panel.getBoundingClientRect();
    if (overflow(rect) > 0) {
      details.classList.add("ak-user-button--flip");
      var flipped = panel.getBoundingClientRect();
      if (overflow(flipped) < overflow(rect)) rect = flipped;
      else details.classList.remove("ak-user-button--flip");
    }
    var shift = 0;
    if (rect.right > width - MENU_EDGE) shift = width - MENU_EDGE - rect.right;
    if (rect.left + shift < MENU_EDGE) shift = MENU_EDGE - rect.left;
    if (shift) panel.style.setProperty("--ak-menu-shift", Math.round(shift) + "px");
  }

  function openUserMenu(details, which) {
    details.open = true;
    syncUserButton(details);
    var items = userMenuItems(details);
    var item = which === "last" ? items[items.length - 1] : items[0];
    if (item) item.focus();
  }

  function closeUserMenu(details, focusButton) {
    if (!details.open) return;
    details.open = false;
    syncUserButton(details);
    var trigger = details.querySelector(".ak-user-button__trigger");
    if (focusButton && trigger) trigger.focus();
  }

  function readyUserButton(node) {
    var details = node && node.closest && node.closest("details[data-ak-menu-ready]");
    return details || null;
  }

  document.addEventListener("click", function (event) {
    var trigger = event.target.closest && event.target.closest(".ak-user-button__trigger");
    var details = trigger && readyUserButton(trigger);
    if (!details || trigger.parentNode !== details) return;
    event.preventDefault(); // toggled here, so the first item can take the focus
    if (details.open) closeUserMenu(details, true);
    else openUserMenu(details, "first");
  });

  document.addEventListener("keydown", function (event) {
    var details = readyUserButton(event.target);
    if (!details || event.altKey || event.ctrlKey || event.metaKey) return;
    var key = event.key;
    if (event.target.classList.contains("ak-user-button__trigger")) {
      if (key === "Enter" || key === " " || key === "ArrowDown" || key === "ArrowUp") {
        event.preventDefault();
        openUserMenu(details, key === "ArrowUp" ? "last" : "first");
      } else if (key === "Escape" && details.open) {
        event.preventDefault();
        closeUserMenu(details, true);
      }
      return;
    }
    var items = userMenuItems(details);
    var index = items.indexOf(event.target);
    if (index < 0) return;
    var next = null;
    if (key === "ArrowDown") next = items[(index + 1) % items.length];
    else if (key === "ArrowUp") next = items[(index - 1 + items.length) % items.length];
    else if (key === "Home") next = items[0];
    else if (key === "End") next = items[items.length - 1];
    else if (key === "Escape") {
      event.preventDefault();
      closeUserMenu(details, true);
    } else if (key === "Tab") {
      // Focus moves on along the page as usual; the menu closes behind it.
      setTimeout(function () { closeUserMenu(details, false); }, 0);
    }
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });

  // A press anywhere outside an open menu closes it, leaving the focus where it lands.
  document.addEventListener("pointerdown", function (event) {
    document.querySelectorAll("details[data-ak-menu-ready][open]").forEach(function (details) {
      if (!details.contains(event.target)) closeUserMenu(details, false);
    });
  });

  // So does focus moving elsewhere (a screen reader's cursor, a host shortcut).
  document.addEventListener("focusout", function (event) {
    var details = readyUserButton(event.target);
    var to = event.relatedTarget;
    if (details && details.open && to && !details.contains(to)) closeUserMenu(details, false);
  });

  window.addEventListener("resize", function () {
    document.querySelectorAll("details[data-ak-menu-ready][open]").forEach(placeUserMenu);
  });

  function setUpUserButtons() {
    document.querySelectorAll("details[data-ak-user-button]").forEach(setUpUserButton);
  }

  document.addEventListener("htmx:after:swap", setUpUserButtons);

  function start() {
    handOverLinkToken();
    enhance(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpUserButtons);
  } else {
    setUpUserButtons();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
