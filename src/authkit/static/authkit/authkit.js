// authkit's progressive enhancements (the forms work without them): show/hide password,
// a loading state on submit, the resend-code countdown, one-time codes drawn as one box
// per digit, clearing a field's message once it is edited, focus after htmx swaps, and
// handing a mailed link's token from the fragment to the server.
// Served from 'self' and free of eval, so a strict Content-Security-Policy holds.
(function () {
  "use strict";

  function enhance(root) {
    root.querySelectorAll("[data-ak-toggle]").forEach(function (button) {
      button.hidden = false;
    });
    root.querySelectorAll("[data-ak-countdown]").forEach(startCountdown);
    root.querySelectorAll("input[data-ak-code]").forEach(setUpCodeBoxes);
    if (hasWebAuthn()) {
      root.querySelectorAll("[data-ak-passkey-sign-in], [data-ak-passkey-register]").forEach(setUpPasskey);
      root.querySelectorAll("[data-ak-passkey-unsupported]").forEach(function (el) { el.hidden = true; });
    }
  }

  // Passkeys (WebAuthn). The server's JSON endpoints hand out a challenge bound to a
  // sign-in attempt and judge the answer; this part only moves bytes between them and
  // the browser's prompt. Everything is hidden until WebAuthn is found, so without
  // JavaScript (or on a browser without passkeys) nothing points at what cannot work.
  function hasWebAuthn() {
    return typeof window.PublicKeyCredential === "function" &&
      !!(navigator.credentials && navigator.credentials.get && navigator.credentials.create);
  }

  function bytesFrom(text) {
    var base64 = String(text).replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function textFrom(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: bytesFrom(item.id) });
    });
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: bytesFrom(json.challenge),
      user: Object.assign({}, json.user, { id: bytesFrom(json.user.id) }),
      excludeCredentials: withIds(json.excludeCredentials)
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: bytesFrom(json.challenge),
      allowCredentials: withIds(json.allowCredentials)
    });
  }

  // A credential as WebAuthn's JSON (PublicKeyCredential.toJSON where the browser has it).
  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") {
      try { return credential.toJSON(); } catch (ignored) { /* built by hand below */ }
    }
    var r = credential.response;
    var json = {
      id: credential.id,
      rawId: textFrom(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: textFrom(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      json.response.attestationObject = textFrom(r.attestationObject);
      json.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      json.response.authenticatorData = textFrom(r.authenticatorData);
      json.response.signature = textFrom(r.signature);
      json.response.userHandle = r.userHandle ? textFrom(r.userHandle) : null;
    }
    return json;
  }

  function postJSON(box, url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": box.dataset.akCsrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  function Refused(sentence) { this.sentence = sentence; }

  function answered(result) {
    if (result.status === 200) return result.data;
    if (result.status === 403 && result.data.reverify) {
      // "Confirm it's you" first; it comes back to the page that adds the passkey.
      window.location.assign(result.data.reverify);
      throw new Refused(null);
    }
    // A sentence from the server, else (an error page, not JSON) the generic one.
    throw new Refused(result.data.error || undefined);
  }

  function showPasskeyMessage(box, sentence) {
    var message = box.querySelector("[data-ak-passkey-message]");
    if (!message) return;
    message.textContent = sentence || "";
    message.hidden = !sentence;
  }

  function passkeyFailure(box, error) {
    if (error instanceof Refused) return error.sentence === null ? null : (error.sentence || box.dataset.akFailed);
    var name = error && error.name;
    if (name === "AbortError") return null; // we stopped it (a button press replaced autofill)
    if (name === "NotAllowedError") return box.dataset.akCancelled;
    if (name === "InvalidStateError" && box.dataset.akExists) return box.dataset.akExists;
    return box.dataset.akFailed;
  }

  function busy(box, on) {
    var start = box.querySelector("[data-ak-passkey-start]");
    if (!start) return;
    if (on) start.setAttribute("aria-busy", "true"); else start.removeAttribute("aria-busy");
    if (start.tagName === "BUTTON") start.disabled = on;
  }

  var autofill = null; // the pending conditional request, aborted when a button is pressed

  function signInWithPasskey(box, conditional) {
    var reverify = box.hasAttribute("data-ak-reverify");
    var controller = null;
    var picked = false; // a passkey was chosen (autofill) or the prompt answered
    if (autofill) { autofill.abort(); autofill = null; }
    if (conditional) { controller = new AbortController(); autofill = controller; }
    if (!conditional) { showPasskeyMessage(box, null); busy(box, true); }
    return postJSON(box, box.dataset.akOptions, { redirect_url: box.dataset.akRedirect || "", reverify: reverify })
      .then(answered)
      .then(function (ceremony) {
        var request = { publicKey: requestOptions(ceremony.publicKey) };
        if (controller) { request.mediation = "conditional"; request.signal = controller.signal; }
        return navigator.credentials.get(request).then(function (credential) {
          picked = true;
          if (controller) busy(box, true);
          return postJSON(box, box.dataset.akVerify, {
            attempt: ceremony.attempt, credential: credentialJSON(credential), reverify: reverify
          });
        });
      })
      .then(answered)
      .then(function (done) { window.location.assign(done.redirect); })
      .catch(function (error) {
        // An autofill request stopped by a button press leaves the button's flow alone.
        if (conditional && error && error.name === "AbortError") return;
        busy(box, false);
        if (controller && autofill === controller) autofill = null;
        var sentence = passkeyFailure(box, error);
        // A quiet autofill request that ends unused says nothing; one the user picked does.
        if (sentence && !(conditional && !picked)) showPasskeyMessage(box, sentence);
        // The address field offers passkeys again after a try that did not sign in (not
        // after an autofill request that failed by itself: that would only loop).
        if (box.dataset.akAutofillOn && box.isConnected && (!conditional || picked)) {
          signInWithPasskey(box, true);
        }
      });
  }

  function registerPasskey(box) {
    showPasskeyMessage(box, null);
    busy(box, true);
    return postJSON(box, box.dataset.akOptions, {})
      .then(answered)
      .then(function (ceremony) {
        return navigator.credentials.create({ publicKey: creationOptions(ceremony.publicKey) })
          .then(function (credential) {
            return postJSON(box, box.dataset.akVerify, { attempt: ceremony.attempt, credential: credentialJSON(credential) });
          });
      })
      .then(answered)
      .then(function (done) { window.location.assign(done.redirect); })
      .catch(function (error) {
        busy(box, false);
        showPasskeyMessage(box, passkeyFailure(box, error));
      });
  }

  function setUpPasskey(box) {
    if (box.dataset.akPasskeyReady) return;
    box.dataset.akPasskeyReady = "1";
    box.hidden = false;
    var start = box.querySelector("[data-ak-passkey-start]");
    var registering = box.hasAttribute("data-ak-passkey-register");
    if (start) {
      start.addEventListener("click", function (event) {
        event.preventDefault();
        if (start.getAttribute("aria-busy") === "true") return;
        if (registering) registerPasskey(box); else signInWithPasskey(box, false);
      });
    }
    if (box.hasAttribute("data-ak-autofill") && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available || !box.isConnected) return;
        box.dataset.akAutofillOn = "1";
        signInWithPasskey(box, true);
      }, function () { /* no autofill: the button still works */ });
    }
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

  // One-time codes as one box per digit. The real <input data-ak-code="6"> stays the
  // field: it is laid transparent over boxes drawn beside it (aria-hidden), so the label,
  // hint, aria-invalid, autocomplete="one-time-code" (iOS/Android autofill, password
  // managers), inputmode and the posted value all stay on one ordinary text field, and a
  // screen reader meets that field, not six. Without JavaScript it is just that field.
  function setUpCodeBoxes(input) {
    var length = parseInt(input.dataset.akCode, 10);
    var control = input.parentNode;
    if (input.dataset.akCodeReady || !(length > 0) || !control) return;
    input.dataset.akCodeReady = "1";
    var boxes = document.createElement("div");
    boxes.className = "ak-code__boxes";
    boxes.setAttribute("aria-hidden", "true");
    for (var i = 0; i < length; i += 1) {
      var box = document.createElement("span");
      box.className = "ak-code__box";
      boxes.appendChild(box);
    }
    input.insertAdjacentElement("afterend", boxes);
    control.classList.add("ak-code");
    input.classList.add("ak-code__input");
    var value = codeDigits(input, input.value); // a kept "123 456" shows as its digits
    if (value !== input.value) input.value = value;
    drawCode(input);
  }

  function codeDigits(input, text) {
    return String(text || "").replace(/\D/g, "").slice(0, parseInt(input.dataset.akCode, 10));
  }

  // The box the next digit goes in: the caret's, never past the first empty one.
  function activeBox(input) {
    var length = parseInt(input.dataset.akCode, 10);
    var at = input.selectionStart === null ? input.value.length : input.selectionStart;
    return Math.max(0, Math.min(at, input.value.length, length - 1));
  }

  function drawCode(input) {
    var boxes = input.nextElementSibling;
    if (!boxes || !boxes.classList.contains("ak-code__boxes")) return;
    var focused = document.activeElement === input;
    var active = activeBox(input);
    Array.prototype.forEach.call(boxes.children, function (box, i) {
      box.textContent = input.value.charAt(i);
      box.classList.toggle("ak-code__box--filled", i < input.value.length);
      box.classList.toggle("ak-code__box--active", focused && i === active);
    });
  }

  // Set the value and caret, then tell the page's other listeners (a field's stale
  // message goes on input) as if the user had typed it.
  function writeCode(input, value, caret) {
    value = codeDigits(input, value);
    var changed = value !== input.value;
    input.value = value;
    caret = Math.max(0, Math.min(caret, value.length));
    input.setSelectionRange(caret, caret);
    if (changed) input.dispatchEvent(new Event("input", { bubbles: true }));
    drawCode(input);
  }

  function codeInput(target) {
    return target && target.matches && target.matches("input[data-ak-code-ready]") ? target : null;
  }

  // Typing writes over the active box and moves on; a whole code typed or dropped in
  // at once replaces everything. Backspace clears the active box, or the one before it
  // when that is empty. Letters are refused.
  document.addEventListener("beforeinput", function (event) {
    var input = codeInput(event.target);
    if (!input || event.isComposing) return;
    var value = input.value;
    var start = input.selectionStart;
    var end = input.selectionEnd;
    var ranged = start !== null && end !== null && end - start > 1;
    var at = activeBox(input);
    var length = parseInt(input.dataset.akCode, 10);
    if (event.inputType === "insertText" && event.data !== null) {
      var digits = event.data.replace(/\D/g, "");
      event.preventDefault();
      if (!digits) return;
      if (digits.length >= length) writeCode(input, digits, length);
      else if (ranged) writeCode(input, value.slice(0, start) + digits + value.slice(end), start + digits.length);
      else writeCode(input, value.slice(0, at) + digits + value.slice(at + digits.length), at + digits.length);
    } else if (event.inputType === "deleteContentBackward" || event.inputType === "deleteContentForward") {
      event.preventDefault();
      if (ranged) writeCode(input, value.slice(0, start) + value.slice(end), start);
      else if (at < value.length) writeCode(input, value.slice(0, at) + value.slice(at + 1), at);
      else if (event.inputType === "deleteContentBackward" && at > 0) {
        writeCode(input, value.slice(0, at - 1) + value.slice(at), at - 1);
      }
    }
  });

  // A pasted code may come as "123 456" or "123-456": its digits fill the boxes, from
  // the first when it is a whole code, whichever box has the focus.
  document.addEventListener("paste", function (event) {
    var input = codeInput(event.target);
    if (!input || !event.clipboardData) return;
    event.preventDefault();
    var digits = event.clipboardData.getData("text").replace(/\D/g, "");
    var length = parseInt(input.dataset.akCode, 10);
    var at = activeBox(input);
    if (digits.length >= length) writeCode(input, digits, length);
    else if (digits) writeCode(input, input.value.slice(0, at) + digits + input.value.slice(at + digits.length), at + digits.length);
  });

  // Autofill, dictation, an input method: whatever else wrote, only its digits stay.
  // (Autofill may arrive as a replacement, or with no beforeinput at all: never refused.)
  document.addEventListener("input", function (event) {
    var input = codeInput(event.target);
    if (!input) return;
    var value = codeDigits(input, input.value);
    if (value !== input.value) {
      input.value = value;
      input.setSelectionRange(value.length, value.length);
    }
    drawCode(input);
  });

  // The arrow keys, Home and End move between the filled boxes and the next empty one.
  document.addEventListener("keydown", function (event) {
    var input = codeInput(event.target);
    if (!input || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var at = activeBox(input);
    var last = Math.min(input.value.length, parseInt(input.dataset.akCode, 10) - 1);
    var to = null;
    if (event.key === "ArrowLeft") to = Math.max(0, at - 1);
    else if (event.key === "ArrowRight") to = Math.min(last, at + 1);
    else if (event.key === "Home") to = 0;
    else if (event.key === "End") to = last;
    if (to === null) return;
    event.preventDefault();
    input.setSelectionRange(to, to);
    drawCode(input);
  });

  // A click or tap lands in the box under it (or the first empty one before it).
  document.addEventListener("click", function (event) {
    var input = codeInput(event.target);
    if (!input) return;
    var boxes = input.nextElementSibling.children;
    var to = boxes.length - 1;
    for (var i = 0; i < boxes.length; i += 1) {
      if (event.clientX <= boxes[i].getBoundingClientRect().right) { to = i; break; }
    }
    to = Math.min(to, input.value.length);
    input.setSelectionRange(to, to);
    drawCode(input);
  });

  // Focus lands on the first empty box (not on a selection of them all, as a tab
  // into a text field would); the boxes follow the caret and lose their mark on blur.
  document.addEventListener("focusin", function (event) {
    var input = codeInput(event.target);
    if (!input) return;
    setTimeout(function () {
      if (document.activeElement !== input) return;
      if (input.selectionEnd - input.selectionStart > 1) {
        input.setSelectionRange(input.value.length, input.value.length);
      }
      drawCode(input);
    }, 0);
  });

  ["focusout", "keyup", "select"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var input = codeInput(event.target);
      if (input) setTimeout(function () { drawCode(input); }, 0);
    });
  });

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

  // Confirmations open in a modal <dialog> over the profile, as Clerk's do: a link marked
  // data-ak-dialog fetches its own confirm page and shows that page's component. Anything
  // else the server answers (a "Confirm it's you" redirect, an error) is simply followed,
  // and without JavaScript the link is the page it always was.
  function openDialog(link) {
    if (link.getAttribute("aria-busy") === "true") return;
    link.setAttribute("aria-busy", "true");
    var href = link.href;
    fetch(href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) throw new Error("not a confirm page");
        return response.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var component = page.querySelector("main .ak-component");
        if (!component) throw new Error("not a confirm page");
        showDialog(link, document.importNode(component, true));
      })
      .catch(function () { window.location.assign(href); })
      .finally(function () { link.removeAttribute("aria-busy"); });
  }

  function showDialog(opener, component) {
    var dialog = document.createElement("dialog");
    dialog.className = "ak-dialog";
    // A forced mode on the component reaches its backdrop too.
    var theme = component.getAttribute("data-ak-theme");
    if (theme) dialog.setAttribute("data-ak-theme", theme);
    var title = component.querySelector(".ak-card__title");
    if (title && title.id) dialog.setAttribute("aria-labelledby", title.id);
    dialog.appendChild(component);
    document.body.appendChild(dialog);
    dialog.addEventListener("close", function () {
      dialog.remove();
      if (opener.isConnected) opener.focus();
    });
    // A click on the backdrop (the dialog box itself, outside its card) closes it.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close();
    });
    if (window.htmx && window.htmx.process) window.htmx.process(dialog);
    enhance(dialog);
    dialog.showModal();
    // Start on what cannot hurt: the field to fill in, else Cancel (WAI-ARIA alertdialog).
    var first = dialog.querySelector("input:not([type=hidden])") || dialog.querySelector("[data-ak-cancel]");
    if (first) first.focus();
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    var target = event.target.closest && event.target;
    var cancel = target && target.closest(".ak-dialog [data-ak-cancel]");
    if (cancel) {
      event.preventDefault();
      cancel.closest("dialog").close();
      return;
    }
    var link = target && target.closest("a[data-ak-dialog]");
    if (!link || typeof HTMLDialogElement === "undefined") return;
    event.preventDefault();
    openDialog(link);
  });

  function start() {
    handOverLinkToken();
    enhance(document);
    // A provider's answer handed on to its callback (oauth_continue.html): go on at once.
    var handOn = document.querySelector("form[data-ak-autosubmit]");
    if (handOn) handOn.submit();
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
