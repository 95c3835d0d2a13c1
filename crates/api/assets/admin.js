// The admin UI's only script. Pages work without it; with it, live parts refresh in place,
// the mailing form counts characters and matching clients, and deletions ask first.
(function () {
  "use strict";

  // The login form reports the browser's time zone, in which pages then show times.
  function reportTimeZone(root) {
    root.querySelectorAll("[data-time-zone]").forEach(function (input) {
      try {
        input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
      } catch (_) {
        input.value = "UTC";
      }
    });
  }

  function countCharacters(root) {
    root.querySelectorAll("textarea[data-counter]").forEach(function (area) {
      var output = document.getElementById(area.dataset.counter);
      var max = Number(area.dataset.max);
      var update = function () {
        // Characters as the server counts them (code points), with line breaks as one.
        var count = Array.from(area.value.replace(/\r\n/g, "\n")).length;
        output.textContent = count + " / " + max + " characters" +
          (count > max ? " (" + (count - max) + " too many)" : "");
        output.classList.toggle("over", count > max);
      };
      area.addEventListener("input", update);
      update();
    });
  }

  function confirmFirst(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  // An element with data-live is replaced by a fresh copy from its URL every data-every
  // milliseconds; the copy decides whether refreshing goes on.
  function refreshLive(root) {
    root.querySelectorAll("[data-live]").forEach(function (element) {
      var every = Number(element.dataset.every) || 2000;
      window.setTimeout(function () {
        fetch(element.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } })
          .then(function (response) {
            if (response.redirected && response.url.indexOf("/admin/login") !== -1) {
              window.location.assign(response.url);
              return null;
            }
            return response.ok ? response.text() : null;
          })
          .then(function (html) {
            if (html === null) {
              refreshLive(element.parentNode);
              return;
            }
            var template = document.createElement("template");
            template.innerHTML = html.trim();
            var fresh = template.content.firstElementChild;
            if (!fresh) return;
            element.replaceWith(fresh);
            refreshLive(fresh.parentNode);
          })
          .catch(function () {
            // The server may be restarting; try again at the next turn.
            refreshLive(element.parentNode);
          });
      }, every);
    });
  }

  // The mailing form shows how many clients its selection reaches, asked as the ticks change.
  function countMatching(root) {
    root.querySelectorAll("form[data-matching]").forEach(function (form) {
      var output = form.querySelector("#match-count");
      var saved = form.querySelector("select[name=client_filter_id]");
      var pickers = form.querySelectorAll("fieldset.picker");
      var timer = null;
      var ask = function () {
        var query = new URLSearchParams();
        if (saved && saved.value) {
          query.append("client_filter_id", saved.value);
        } else {
          form.querySelectorAll("input[name=operator_codes]:checked, input[name=tags]:checked")
            .forEach(function (box) { query.append(box.name, box.value); });
        }
        fetch(form.dataset.matching + "?" + query.toString(), { credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.text() : null; })
          .then(function (text) { if (text !== null) output.textContent = text; })
          .catch(function () { output.textContent = "Could not count the matching clients"; });
      };
      var changed = function () {
        pickers.forEach(function (picker) { picker.disabled = Boolean(saved && saved.value); });
        window.clearTimeout(timer);
        timer = window.setTimeout(ask, 250);
      };
      form.addEventListener("change", function (event) {
        var name = event.target.name;
        if (name === "operator_codes" || name === "tags" || name === "client_filter_id") changed();
      });
      pickers.forEach(function (picker) { picker.disabled = Boolean(saved && saved.value); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    reportTimeZone(document);
    countCharacters(document);
    confirmFirst(document);
    refreshLive(document);
    countMatching(document);
  });
})();
