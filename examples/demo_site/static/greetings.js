// The demo's third-party call: a token from authkit (GET /auth/tokens/greetings), then the
// stand-in service with it as a bearer token. No secret is in the page.
(function () {
  "use strict";
  var button = document.querySelector("[data-greet]");
  var out = document.querySelector("[data-greeting]");
  if (!button || !out) return;
  button.addEventListener("click", function () {
    button.disabled = true;
    out.textContent = "Calling…";
    fetch(button.dataset.tokenUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (!answer.jwt) throw new Error(answer.error || "no token");
        return fetch("/standin-api/greet", { headers: { Authorization: "Bearer " + answer.jwt } });
      })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        out.textContent = answer.greeting
          ? answer.greeting + " (token valid for " + answer.expires_in + " more seconds)"
          : "Refused: " + answer.error;
      })
      .catch(function (error) { out.textContent = "That did not work: " + error.message; })
      .finally(function () { button.disabled = false; });
  });
})();
