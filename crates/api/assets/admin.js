// The admin UI's only script. Pages work without it; with it, live parts refresh in place,
// the mailing form counts characters, SMS parts and matching clients and previews the
// mailing, time zone fields suggest names, and deletions ask first.
(function () {
  "use strict";

  // The login form, and the single sign-on link, report the browser's time zone, in which
  // pages then show times.
  function reportTimeZone(root) {
    var zone = "UTC";
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    } catch (_) {
      // An old browser: UTC.
    }
    root.querySelectorAll("[data-time-zone]").forEach(function (input) {
      input.value = zone;
    });
    root.querySelectorAll("a[data-time-zone-link]").forEach(function (link) {
      link.href = link.getAttribute("href").split("?")[0] + "?time_zone=" + encodeURIComponent(zone);
    });
  }

  // The mailing text's counter (characters, encoding, SMS parts) comes from the server, which
  // counts as the provider bills, asked a moment after typing stops.
  function countCharacters(root) {
    root.querySelectorAll("textarea[data-counter]").forEach(function (area) {
      var output = document.getElementById(area.dataset.counter);
      var timer = null;
      var asked = 0;
      var ask = function () {
        var mine = ++asked;
        var query = new URLSearchParams({ text: area.value });
        fetch(area.dataset.count + "?" + query.toString(), { credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.text() : null; })
          .then(function (text) {
            // Only the answer to the latest text counts.
            if (text !== null && mine === asked) {
              output.textContent = text;
              output.classList.toggle("over", text.indexOf("too many") !== -1);
            }
          })
          .catch(function () { output.textContent = "Could not count the text"; });
      };
      area.addEventListener("input", function () {
        window.clearTimeout(timer);
        timer = window.setTimeout(ask, 150);
      });
    });
  }

  // The mailing form's Preview button sends the form as it is and shows what the mailing
  // would send, without saving it.
  function previewMailing(root) {
    root.querySelectorAll("button[data-preview]").forEach(function (button) {
      var form = button.form;
      var output = document.getElementById("preview");
      button.addEventListener("click", function () {
        button.disabled = true;
        output.textContent = "Working it out…";
        fetch(button.dataset.preview, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(new FormData(form)).toString()
        })
          .then(function (response) {
            if (!response.ok) throw new Error(String(response.status));
            return response.text();
          })
          .then(function (html) { output.innerHTML = html; })
          .catch(function () { output.textContent = "Could not preview the mailing"; })
          .then(function () { button.disabled = false; });
      });
    });
  }

  function confirmFirst(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  // An element with data-live is refreshed from its URL every data-every milliseconds while
  // the tab is shown. The answer holds fresh copies of one or more parts of the page, each
  // with the id of the part it replaces; the fresh copy of the element itself decides whether
  // refreshing goes on. Parts that did not change are left alone, and focus stays where it was,
  // so the reader keeps their place.
  function refreshLive(root) {
    root.querySelectorAll("[data-live]").forEach(scheduleRefresh);
  }

  function scheduleRefresh(element) {
    var every = Number(element.dataset.every) || 2000;
    window.setTimeout(function () {
      whenShown(function () {
        fetchParts(element);
      });
    }, every);
  }

  // Runs `then` now if the tab is shown, or as soon as it is shown again.
  function whenShown(then) {
    if (!document.hidden) {
      then();
      return;
    }
    var shown = function () {
      if (document.hidden) return;
      document.removeEventListener("visibilitychange", shown);
      then();
    };
    document.addEventListener("visibilitychange", shown);
  }

  function fetchParts(element) {
    if (!element.isConnected) return;
    fetch(element.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected && response.url.indexOf("/admin/login") !== -1) {
          window.location.assign(response.url);
          return null;
        }
        if (response.status === 404) {
          // Deleted meanwhile: the page says so on reload.
          window.location.reload();
          return null;
        }
        return response.ok ? response.text() : "";
      })
      .then(function (html) {
        if (html === null) return;
        var template = document.createElement("template");
        template.innerHTML = html;
        var next = element;
        Array.prototype.slice.call(template.content.children).forEach(function (fresh) {
          var current = fresh.id ? document.getElementById(fresh.id) : null;
          if (!current) return;
          var kept = swap(current, fresh);
          if (current === element) next = kept;
        });
        // A failed answer (the server may be restarting) leaves the page as it was and is
        // tried again at the next turn.
        if (next.dataset.live) scheduleRefresh(next);
      })
      .catch(function () {
        scheduleRefresh(element);
      });
  }

  // Puts `fresh` in place of `current` unless they are alike, and gives focus back to the
  // same control in the fresh copy. Returns the element now in the page.
  function swap(current, fresh) {
    if (current.isEqualNode(fresh)) return current;
    var focused = document.activeElement;
    var path = focused && focused !== current && current.contains(focused) ? pathTo(current, focused) : null;
    current.replaceWith(fresh);
    confirmFirst(fresh);
    if (path) {
      var again = follow(fresh, path);
      if (again && typeof again.focus === "function") again.focus({ preventScroll: true });
    }
    return fresh;
  }

  // How to find `node` again in a fresh copy of `root`: by its id, else as the element of the
  // same kind, text and link (a pager's "Next", a "Delete mailing" button), else by position.
  function pathTo(root, node) {
    var steps = [];
    for (var at = node; at !== root; at = at.parentNode) {
      steps.unshift(Array.prototype.indexOf.call(at.parentNode.children, at));
    }
    return {
      id: node.id,
      tag: node.tagName,
      text: node.textContent.trim(),
      href: node.getAttribute("href"),
      steps: steps,
    };
  }

  function follow(root, path) {
    if (path.id) return root.querySelector("#" + CSS.escape(path.id));
    var same = Array.prototype.find.call(root.getElementsByTagName(path.tag), function (element) {
      return element.textContent.trim() === path.text && element.getAttribute("href") === path.href;
    });
    if (same) return same;
    var node = root;
    for (var i = 0; node && i < path.steps.length; i++) node = node.children[path.steps[i]];
    return node && node.tagName === path.tag ? node : null;
  }

  // A time zone field suggests the names the server lists, fetched once and then kept by the
  // browser's cache.
  function suggestTimeZones(root) {
    root.querySelectorAll("input[data-time-zones]").forEach(function (input) {
      var list = document.getElementById(input.getAttribute("list"));
      if (!list) return;
      fetch(input.dataset.timeZones, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (text) {
          var options = document.createDocumentFragment();
          text.split("\n").forEach(function (name) {
            if (!name) return;
            var option = document.createElement("option");
            option.value = name;
            options.appendChild(option);
          });
          list.replaceChildren(options);
        })
        .catch(function () {
          // Without suggestions the field still takes any name.
        });
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

  // Parts of pages that only make sense with this script (such as "updates by itself") show
  // once it runs.
  document.documentElement.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    reportTimeZone(document);
    suggestTimeZones(document);
    countCharacters(document);
    confirmFirst(document);
    refreshLive(document);
    countMatching(document);
    previewMailing(document);
  });
})();
